"""Requests cut short: a service's requests stop making their usual calls. The pattern signal credits the service
whose answer now ends them (a failed answer stops the caller's handling) unless its other callers' requests still go
on after that answer, or the service itself where they now end before any call; a fault-free window credits no one."""

from __future__ import annotations

import networkx as nx

from engine.telemetry.model import Alert, Incident, ReferenceMinute, Span, Window
from engine.telemetry.signals import pattern_signal
from engine.telemetry.spans import NO_CALL, request_shapes

REQUESTS = 12  # per minute


def _request(minute: int, k: int, calls: tuple[str, ...]) -> list[Span]:
    """A's handler receives a request and calls each service of `calls` in turn through a client span of its own."""
    start, tag = minute * 60.0 + k, f"{minute}-{k}"
    spans = [Span(tag, f"a{tag}", "", "A", "A.handle", start, 100.0)]
    for n, callee in enumerate(calls):
        at = start + 0.01 * (n + 1)
        spans += [Span(tag, f"c{n}{tag}", f"a{tag}", "A", f"call {callee}", at, 8.0),
                  Span(tag, f"s{n}{tag}", f"c{n}{tag}", callee, f"{callee}.serve", at + 0.001, 5.0)]
    return spans


def _minute(minute: int, cut: int = 0, calls_when_cut: tuple[str, ...] = ()) -> list[Span]:
    """Every request calls B, then C, then D; the first `cut` make only `calls_when_cut`."""
    return [span for k in range(REQUESTS)
            for span in _request(minute, k, calls_when_cut if k < cut else ("B", "C", "D"))]


def _incident(window: list[Span]) -> Incident:
    reference = [ReferenceMinute(f"ref{m}", tuple(_minute(m))) for m in range(3)]
    return Incident(
        case_id="toy", system="toy", entities=["A", "B", "C", "D"],
        topology=nx.DiGraph([("A", "B"), ("A", "C"), ("A", "D")]), alert=Alert("A", "latency", 600.0, "toy alert"),
        window=Window(600.0, 660.0), baseline=Window(0.0, 180.0), spans=window, window_trace_minutes=1.0,
        reference=reference,
    )


def test_request_shapes_count_own_spans_and_say_after_whose_answer_each_request_ended():
    shapes = request_shapes(_minute(0, cut=6, calls_when_cut=("B",)))
    handled = shapes[("A", "A.handle")]
    assert handled.count == REQUESTS and handled.local_spans == (6 * 3 + 6 * 1) / REQUESTS
    assert handled.endings == {"D": 0.5, "B": 0.5}
    assert shapes[("B", "B.serve")].endings == {NO_CALL: 1.0}


def test_requests_that_now_end_after_one_service_answered_point_at_that_service():
    found = pattern_signal(_incident(_minute(10, cut=8, calls_when_cut=("B",))))
    assert max(found, key=lambda entity: found[entity].score) == "B"
    assert "A" not in found and "C" not in found


def test_requests_that_now_end_before_any_call_point_at_the_service_itself():
    found = pattern_signal(_incident(_minute(10, cut=8)))
    assert max(found, key=lambda entity: found[entity].score) == "A"
    assert "B" not in found


def test_a_window_like_the_reference_minutes_credits_no_one():
    assert pattern_signal(_incident(_minute(10))) == {}


def _two_callers_minute(minute: int, a_stops: int = 0, x_stops: int = 0) -> list[Span]:
    """A and X each handle REQUESTS requests that call B, then C; the first `a_stops` of A's (`x_stops` of X's) end
    right after B's answer."""
    spans = []
    for caller, stops in (("A", a_stops), ("X", x_stops)):
        for k in range(REQUESTS):
            start, tag = minute * 60.0 + k + (0.5 if caller == "X" else 0.0), f"{caller}{minute}-{k}"
            spans.append(Span(tag, f"r{tag}", "", caller, f"{caller}.handle", start, 100.0))
            for n, callee in enumerate(("B",) if k < stops else ("B", "C")):
                at = start + 0.01 * (n + 1)
                spans += [Span(tag, f"c{n}{tag}", f"r{tag}", caller, f"call {callee}", at, 8.0),
                          Span(tag, f"s{n}{tag}", f"c{n}{tag}", callee, f"{callee}.serve", at + 0.001, 5.0)]
    return spans


def _two_callers_incident(window: list[Span]) -> Incident:
    reference = [ReferenceMinute(f"ref{m}", tuple(_two_callers_minute(m))) for m in range(3)]
    return Incident(
        case_id="toy", system="toy", entities=["A", "X", "B", "C"],
        topology=nx.DiGraph([("A", "B"), ("A", "C"), ("X", "B"), ("X", "C")]),
        alert=Alert("A", "latency", 600.0, "toy alert"), window=Window(600.0, 660.0), baseline=Window(0.0, 180.0),
        spans=window, window_trace_minutes=1.0, reference=reference,
    )


def test_a_caller_that_stops_after_an_answer_its_other_callers_still_go_on_after_is_itself_to_blame():
    found = pattern_signal(_two_callers_incident(_two_callers_minute(10, a_stops=8)))
    assert max(found, key=lambda entity: found[entity].score) == "A"
    assert "B" not in found


def test_a_service_whose_answer_now_ends_every_callers_requests_is_to_blame():
    found = pattern_signal(_two_callers_incident(_two_callers_minute(10, a_stops=8, x_stops=8)))
    assert max(found, key=lambda entity: found[entity].score) == "B"
    assert "A" not in found and "X" not in found
