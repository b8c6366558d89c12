"""The reference's calls per service edge (edge_statistics' baseline columns) are joined from each reference minute's
own calls, cached per minute: they must equal the calls counted over all the reference minutes' spans pooled, also
when an ERROR line of one minute names a span of another (then the failure crosses minutes)."""
from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from engine.telemetry.model import Alert, Incident, LogRecord, ReferenceMinute, Span, Window
from engine.telemetry.profiles import reference_edge_calls
from engine.telemetry.spans import edge_calls, failed_span_ids

NEZHA = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "rca" / "nezha"


def _pooled(incident: Incident) -> dict:
    spans = incident.baseline_spans
    return edge_calls(spans, failed_span_ids(spans, incident.baseline_logs))


def _incident(reference: list[ReferenceMinute]) -> Incident:
    return Incident("toy", "toy", ["front", "cart"], nx.DiGraph(), Alert("front", "latency", 120.0, "slow"),
                    Window(120.0, 180.0), Window(0.0, 120.0), reference=reference)


def _call(trace: str, at: float) -> tuple[Span, Span]:
    return (Span(trace, f"{trace}-c", "", "front", "call cart", at, 100.0),
            Span(trace, f"{trace}-s", f"{trace}-c", "cart", "GetCart", at + 0.5, 80.0))


def test_a_failure_logged_in_the_next_minute_counts_as_in_the_pooled_spans():
    first = ReferenceMinute("m0", (*_call("t0", 10.0), *_call("t1", 20.0)))
    error = LogRecord(61.0, "cart", "t1-s", "ERROR", "CartService#12 failed")
    second = ReferenceMinute("m1", _call("t2", 70.0), (error,))
    for reference in ([first, second], [second, first]):
        joined = reference_edge_calls(reference)
        assert joined == _pooled(_incident(reference))
        assert joined[("front", "cart")].failed == 1
        assert len(joined[("front", "cart")].durations_ms) == 3


@pytest.mark.skipif(not NEZHA.is_dir(), reason="needs ../shared/datasets/rca/nezha")
@pytest.mark.parametrize("case_id", ["ob-2022-08-23-20", "tt-2023-01-29-20"])
def test_a_real_cases_reference_calls_joined_per_minute_equal_the_pooled_count(case_id):
    from engine.telemetry.dataset import load_case

    incident = load_case(NEZHA, case_id)
    joined, pooled = reference_edge_calls(incident.reference), _pooled(incident)
    assert list(joined) == list(pooled) and joined == pooled
    assert any(calls.failed for calls in joined.values()) or case_id.startswith("ob")
