"""TAMO's trace channels read the spans on the grid bin by bin: the window's spans, then each reference minute's, in
their order. Binned per source (the reference minutes' start times cached), the bins must hold the same spans in the
same order as the grid's filter over all of them, and the calls found once per bin must give the same counts."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from engine.tamo.grid import Grid
from engine.tamo.traces import _Calls, _call_counts, _spans_by_bin
from engine.telemetry.model import Span

NEZHA = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "rca" / "nezha"


def _plain_bins(incident, grid: Grid) -> dict[int, list[Span]]:
    spans = grid.within(list(incident.spans) + incident.baseline_spans, lambda span: span.start)
    by_bin = defaultdict(list)
    for span, b in zip(spans, grid.bin_of(np.array([span.start for span in spans]))):
        by_bin[int(b)].append(span)
    return by_bin


def _plain_call_counts(spans: list[Span]) -> dict[tuple[str, str], tuple[int, int]]:
    """Per (entity, operation): spans, and spans that called another service themselves or through a span of their
    own service below them."""
    by_id = {span.span_id: span for span in spans}
    calling = set()
    for span in spans:
        parent = by_id.get(span.parent_id)
        if parent is not None and parent.entity != span.entity:
            caller = parent.entity
            while parent is not None and parent.entity == caller:
                calling.add(parent.span_id)
                parent = by_id.get(parent.parent_id)
    counts = defaultdict(lambda: [0, 0])
    for span in spans:
        counts[(span.entity, span.operation)][0] += 1
        counts[(span.entity, span.operation)][1] += span.span_id in calling
    return {key: tuple(n) for key, n in counts.items()}


@pytest.mark.skipif(not NEZHA.is_dir(), reason="needs ../shared/datasets/rca/nezha")
@pytest.mark.parametrize("case_id", ["ob-2022-08-23-20", "tt-2023-01-29-20"])
def test_a_real_cases_bins_hold_the_grids_spans_in_order_and_count_their_calls(case_id):
    from engine.telemetry.dataset import load_case

    incident = load_case(NEZHA, case_id)
    grid = Grid.around(incident.alert.time)
    by_bin = _spans_by_bin(incident, grid)
    assert list(by_bin.items()) == list(_plain_bins(incident, grid).items())
    assert len(by_bin) > 1
    for spans in by_bin.values():
        assert _call_counts(spans, _Calls.among(spans)) == _plain_call_counts(spans)
