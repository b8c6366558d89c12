"""Requests lost on their way to a service: the caller's client span is there, the callee's span is not. The
blame goes to the callee, not to the caller that only waited for it."""

from __future__ import annotations

import networkx as nx

from engine.telemetry.blame import trace_blame_signal
from engine.telemetry.model import Alert, Incident, ReferenceMinute, Span, Window

CALLS = 12  # requests per minute


def _requests(minute: int, lost: int) -> list[Span]:
    """Each request: A's handler makes a client call to B, and B serves it; the first `lost` of them never
    reach B (the client span waits alone)."""
    spans = []
    for k in range(CALLS):
        start, tag = minute * 60.0 + k, f"{minute}-{k}"
        spans += [Span(tag, f"a{tag}", "", "A", "A.handle", start, 50.0),
                  Span(tag, f"c{tag}", f"a{tag}", "A", "HTTP POST", start + 0.001, 40.0)]
        if k >= lost:
            spans.append(Span(tag, f"b{tag}", f"c{tag}", "B", "B.serve", start + 0.002, 30.0))
    return spans


def _incident(lost: int) -> Incident:
    reference = [ReferenceMinute(f"ref{m}", tuple(_requests(m, 0))) for m in range(3)]
    return Incident(
        case_id="toy", system="toy", entities=["A", "B"], topology=nx.DiGraph([("A", "B")]),
        alert=Alert("A", "latency", 600.0, "toy alert"), window=Window(600.0, 660.0), baseline=Window(0.0, 180.0),
        spans=_requests(10, lost), window_trace_minutes=1.0, reference=reference,
    )


def test_calls_that_never_reached_the_callee_are_blamed_on_the_callee():
    blamed = trace_blame_signal(_incident(lost=6))
    assert "B" in blamed and "A" not in blamed
    assert blamed["B"].evidence["deepest_anomalous_spans_per_min"] == 6


def test_calls_that_all_reached_the_callee_blame_no_one():
    assert trace_blame_signal(_incident(lost=0)) == {}
