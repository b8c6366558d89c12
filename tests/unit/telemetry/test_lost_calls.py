"""Requests lost on their way to a service: the caller's client span is there, the callee's span is not. The
blame goes to the callee, not to the caller that only waited for it; unless the caller lost calls into several
services at once, which is its own side (its network) losing what it sends."""

from __future__ import annotations

import networkx as nx

from engine.telemetry.blame import trace_blame_signal
from engine.telemetry.model import Alert, Incident, ReferenceMinute, Span, Window

CALLS = 12  # requests per minute


def _requests(minute: int, lost: int, callees: tuple[str, ...] = ("B",)) -> list[Span]:
    """Each request: A's handler makes a client call to each callee, and the callee serves it; the first `lost`
    of them never reach any callee (the client spans wait alone)."""
    spans = []
    for k in range(CALLS):
        start, tag = minute * 60.0 + k, f"{minute}-{k}"
        spans.append(Span(tag, f"a{tag}", "", "A", "A.handle", start, 50.0))
        for callee in callees:
            client = f"c{callee}{tag}"
            spans.append(Span(tag, client, f"a{tag}", "A", f"HTTP POST {callee}", start + 0.001, 40.0))
            if k >= lost:
                spans.append(Span(tag, f"s{callee}{tag}", client, callee, f"{callee}.serve", start + 0.002, 30.0))
    return spans


def _incident(lost: int, callees: tuple[str, ...] = ("B",)) -> Incident:
    reference = [ReferenceMinute(f"ref{m}", tuple(_requests(m, 0, callees))) for m in range(3)]
    return Incident(
        case_id="toy", system="toy", entities=["A", *callees], topology=nx.DiGraph([("A", c) for c in callees]),
        alert=Alert("A", "latency", 600.0, "toy alert"), window=Window(600.0, 660.0), baseline=Window(0.0, 180.0),
        spans=_requests(10, lost, callees), window_trace_minutes=1.0, reference=reference,
    )


def test_calls_that_never_reached_the_callee_are_blamed_on_the_callee():
    blamed = trace_blame_signal(_incident(lost=6))
    assert "B" in blamed and "A" not in blamed
    assert blamed["B"].evidence["deepest_anomalous_spans_per_min"] == 6


def test_calls_that_all_reached_the_callee_blame_no_one():
    assert trace_blame_signal(_incident(lost=0)) == {}


def test_calls_lost_into_several_services_at_once_are_blamed_on_the_caller():
    blamed = trace_blame_signal(_incident(lost=6, callees=("B", "C")))
    assert set(blamed) == {"A"}
    assert blamed["A"].evidence["deepest_anomalous_spans_per_min"] == 12
