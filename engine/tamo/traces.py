"""Trace channels on the grid: per entity and per call edge, each against the fault-free reference minutes.

Nezha spans carry no status code, so the trace "error" channel is the loss of downstream calls an operation
reliably made in the reference (an early return or an exception cuts them).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.telemetry.model import Incident, ReferenceMinute, Span
from engine.telemetry.spans import own_times, self_contained
from engine.tamo.grid import Grid

TRACE_CHANNELS = ("trace_count", "trace_own_time", "trace_p95", "trace_edge_in", "trace_edge_out", "trace_lost_calls")
MIN_CALLS = 3


def trace_channels(incident: Incident, grid: Grid, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray, dict]:
    """([N, T, len(TRACE_CHANNELS)], has_trace [T], {(caller, callee): [T] latency log-ratio})."""
    out = np.zeros((len(index), grid.steps, len(TRACE_CHANNELS)))
    by_bin = _spans_by_bin(incident, grid)
    reference_minutes = [minute for minute in incident.reference if minute.spans]
    if not by_bin or not reference_minutes:
        return out, np.zeros(grid.steps), {}
    reference = _reference_stats(reference_minutes)
    edges: dict[tuple[str, str], np.ndarray] = {}
    for b, members in by_bin.items():
        _fill_bin(out[:, b], members, reference, index, edges, b, grid.steps)
    has_trace = np.array([1.0 if b in by_bin else 0.0 for b in range(grid.steps)])
    return out, has_trace, edges


def _spans_by_bin(incident: Incident, grid: Grid) -> dict[int, list[Span]]:
    """The window's spans and then the reference minutes' that fall on the grid, per bin, in that order (bins in
    order of their first span)."""
    by_bin: dict[int, list[Span]] = defaultdict(list)
    for spans, starts in [(incident.spans, _starts(incident.spans))] + [(minute.spans, _minute_starts(minute))
                                                                        for minute in incident.reference]:
        bins = grid.bin_of(starts)
        on_grid = np.flatnonzero(bins >= 0)
        for position, b in zip(on_grid.tolist(), bins[on_grid].tolist()):
            by_bin[b].append(spans[position])
    return by_bin


def _starts(spans: Sequence[Span]) -> np.ndarray:
    return np.array([span.start for span in spans], dtype=float)


@lru_cache(maxsize=64)
def _minute_starts(minute: ReferenceMinute) -> np.ndarray:
    """Cached per reference minute, as _minute_summary."""
    return _starts(minute.spans)


@dataclass(frozen=True)
class _SpanSummary:
    """What the reference statistics need of a set of spans (one minute's, or several pooled)."""

    count: dict[str, int]  # entity -> spans
    own: dict[tuple[str, str], list[float]]  # as own_times
    durations: dict[str, list[float]]
    edges: dict[tuple[str, str], list[float]]
    calls: dict[tuple[str, str], tuple[int, int]]  # (entity, operation) -> (spans, spans that called out)
    ids: frozenset[str]
    outside_parents: frozenset[str]  # parent ids of its spans that are none of its own spans


def _summary(spans: Sequence[Span]) -> _SpanSummary:
    ids = frozenset(span.span_id for span in spans)
    calls = _Calls.among(spans)
    return _SpanSummary(dict(Counter(span.entity for span in spans)), own_times(spans), _durations(spans),
                        _edge_durations(calls), _call_counts(spans, calls), ids,
                        frozenset(span.parent_id for span in spans if span.parent_id) - ids)


@lru_cache(maxsize=64)
def _minute_summary(minute: ReferenceMinute) -> _SpanSummary:
    """Cached per reference minute: the loaders share one object per minute file, so the cases of a day that
    share reference minutes summarise each once."""
    return _summary(minute.spans)


def _reference_stats(minutes: list[ReferenceMinute]) -> dict:
    """Per entity, the median span count over the minutes; over their spans pooled, the median own time per
    operation, the p95 duration per entity, the median duration per call edge and the share of calls out per
    operation. Pooled from each minute's cached summary, unless a span's id or parent is in another minute (then
    a parent's children would span minutes: the spans are summarised together)."""
    each = [_minute_summary(minute) for minute in minutes]
    apart = self_contained([(summary.ids, summary.outside_parents) for summary in each])
    pooled = each if apart else [_summary([span for minute in minutes for span in minute.spans])]
    counts = defaultdict(list)
    for summary in each:
        for entity, n in summary.count.items():
            counts[entity].append(n)
    own, durations, edges = (_concatenated([getattr(s, name) for s in pooled]) for name in ("own", "durations",
                                                                                             "edges"))
    calls: dict[tuple[str, str], tuple[int, int]] = {}
    for summary in pooled:
        for key, (n, called) in summary.calls.items():
            before = calls.get(key, (0, 0))
            calls[key] = (before[0] + n, before[1] + called)
    return {
        "count": {e: float(np.median(v + [0] * (len(minutes) - len(v)))) for e, v in counts.items()},
        "own": {key: float(np.median(v)) for key, v in own.items() if len(v) >= MIN_CALLS},
        "p95": {e: float(np.percentile(v, 95)) for e, v in durations.items()},
        "edge": {key: float(np.median(v)) for key, v in edges.items() if len(v) >= MIN_CALLS},
        "calls": {key: called / n for key, (n, called) in calls.items() if n >= MIN_CALLS},
    }


def _concatenated(groups: list[dict]) -> dict:
    """Key -> the lists of every group joined, in group order (keys in order of first appearance)."""
    joined = defaultdict(list)
    for group in groups:
        for key, values in group.items():
            joined[key].extend(values)
    return joined


def _fill_bin(out: np.ndarray, spans: list[Span], reference: dict, index: dict[str, int], edges: dict, b: int,
              steps: int) -> None:
    for entity, n in Counter(span.entity for span in spans).items():
        if entity in index:
            out[index[entity], 0] = np.log((n + 1.0) / (reference["count"].get(entity, 0.0) + 1.0))
    _max_into(out, index, 1, _ratios(own_times(spans), reference["own"], key_entity=lambda key: key[0]))
    for entity, durations in _durations(spans).items():
        if entity in index and entity in reference["p95"] and len(durations) >= MIN_CALLS:
            out[index[entity], 2] = np.log((np.percentile(durations, 95) + 1.0) / (reference["p95"][entity] + 1.0))
    calls = _Calls.among(spans)
    edge_ratios = dict(_ratios(_edge_durations(calls), reference["edge"], key_entity=None))
    for key, ratio in edge_ratios.items():
        edges.setdefault(key, np.zeros(steps))[b] = ratio
    _max_into(out, index, 3, [(callee, r) for (_, callee), r in edge_ratios.items()])
    _max_into(out, index, 4, [(caller, r) for (caller, _), r in edge_ratios.items()])
    _max_into(out, index, 5, _lost_calls(_call_shares(spans, calls), reference["calls"]))


def _ratios(now: dict, reference: dict, key_entity) -> list:
    """(key or its entity, log-ratio of medians) for keys with enough calls in both."""
    found = []
    for key, values in now.items():
        if key in reference and len(values) >= MIN_CALLS:
            ratio = float(np.log((np.median(values) + 1.0) / (reference[key] + 1.0)))
            found.append((key_entity(key) if key_entity else key, ratio))
    return found


def _max_into(out: np.ndarray, index: dict[str, int], channel: int, pairs) -> None:
    """Keep the largest-magnitude value per entity."""
    for entity, value in pairs:
        if entity in index and abs(value) > abs(out[index[entity], channel]):
            out[index[entity], channel] = value


def _lost_calls(now: dict, reference: dict) -> list[tuple[str, float]]:
    return [(key[0], reference[key] - share) for key, (n, share) in now.items()
            if n >= MIN_CALLS and reference.get(key, 0.0) >= 0.5 and reference[key] > share]


def _durations(spans: list[Span]) -> dict[str, list[float]]:
    grouped = defaultdict(list)
    for span in spans:
        grouped[span.entity].append(span.duration_ms)
    return grouped


@dataclass(frozen=True)
class _Calls:
    """Calls between services within a set of spans: its spans by id, and each (calling span, called span) pair
    whose services differ, in the called spans' order."""

    by_id: dict[str, Span]
    pairs: list[tuple[Span, Span]]

    @classmethod
    def among(cls, spans: Sequence[Span]) -> _Calls:
        by_id = {span.span_id: span for span in spans}
        parent_of = by_id.get
        return cls(by_id, [(parent, span) for span in spans
                           if (parent := parent_of(span.parent_id)) is not None and parent.entity != span.entity])


def _edge_durations(calls: _Calls) -> dict[tuple[str, str], list[float]]:
    grouped = defaultdict(list)
    for caller, callee in calls.pairs:
        grouped[(caller.entity, callee.entity)].append(callee.duration_ms)
    return grouped


def _call_shares(spans: list[Span], calls: _Calls) -> dict[tuple[str, str], tuple[int, float]]:
    """Per (entity, operation): how many spans, and the share whose work (within the entity) called another
    service."""
    return {key: (n, called / n) for key, (n, called) in _call_counts(spans, calls).items()}


def _call_counts(spans: Sequence[Span], calls: _Calls) -> dict[tuple[str, str], tuple[int, int]]:
    """Per (entity, operation): how many spans, and how many of them did work (within the entity) that called
    another service: the calling span and its ancestors in the same service."""
    parent_of = calls.by_id.get
    calling: set[str] = set()
    for parent, _ in calls.pairs:
        caller = parent.entity
        while parent is not None and parent.entity == caller and parent.span_id not in calling:
            calling.add(parent.span_id)
            parent = parent_of(parent.parent_id)
    totals = Counter((span.entity, span.operation) for span in spans)
    called = Counter((span.entity, span.operation) for span in spans if span.span_id in calling)
    return {key: (n, called[key]) for key, n in totals.items()}
