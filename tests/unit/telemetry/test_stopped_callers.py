"""A failed answer stops the caller's handling: the lines it logs and the calls it makes after that answer never
happen. Those lost habits are the failing service's when it broke a habit of its own, and stay the caller's when
the callee answered as usual (the caller stopped part-way by itself)."""

from __future__ import annotations

import networkx as nx

from engine.telemetry.model import Alert, Incident, LogRecord, ReferenceMinute, Span, Window
from engine.telemetry.signals import pattern_signal

REQUESTS = 12  # per minute; A's handler calls B, then C, then logs that it is done
DONE = "lost log:INFO a.Handle#50"


def _minute(minute: int, stopped: int = 0, b_fails: bool = False) -> tuple[list[Span], list[LogRecord]]:
    """The first `stopped` requests end right after B's answer; with `b_fails`, B logs an error for each of them
    instead of its usual line."""
    spans, logs = [], []
    for k in range(REQUESTS):
        t, tag, stops = minute * 60.0 + k, f"{minute}-{k}", k < stopped
        spans += [Span(tag, f"a{tag}", "", "A", "A.handle", t, 100.0),
                  Span(tag, f"ab{tag}", f"a{tag}", "A", "call B", t + 0.01, 8.0),
                  Span(tag, f"b{tag}", f"ab{tag}", "B", "B.serve", t + 0.011, 5.0)]
        logs.append(LogRecord(t + 0.012, "B", f"b{tag}", "ERROR" if stops and b_fails else "INFO",
                              "b.Serve#12 no answer" if stops and b_fails else "b.Serve#10 answered"))
        if not stops:
            spans += [Span(tag, f"ac{tag}", f"a{tag}", "A", "call C", t + 0.03, 8.0),
                      Span(tag, f"c{tag}", f"ac{tag}", "C", "C.serve", t + 0.031, 5.0)]
            logs.append(LogRecord(t + 0.05, "A", f"a{tag}", "INFO", "a.Handle#50 done"))
    return spans, logs


def _incident(window: tuple[list[Span], list[LogRecord]]) -> Incident:
    reference = [ReferenceMinute(f"ref{m}", *map(tuple, _minute(m))) for m in range(3)]
    spans, logs = window
    return Incident(
        case_id="toy", system="toy", entities=["A", "B", "C"], topology=nx.DiGraph([("A", "B"), ("A", "C")]),
        alert=Alert("A", "latency", 600.0, "toy alert"), window=Window(600.0, 660.0), baseline=Window(0.0, 180.0),
        spans=spans, logs=logs, window_trace_minutes=1.0, reference=reference,
    )


def test_what_a_caller_never_got_to_after_a_failed_answer_is_the_failing_services():
    found = pattern_signal(_incident(_minute(10, stopped=8, b_fails=True)))
    assert set(found) == {"B"}  # not the caller, nor C, whose call was never made
    assert DONE in found["B"].evidence


def test_a_caller_that_stops_after_a_usual_answer_keeps_what_it_lost():
    found = pattern_signal(_incident(_minute(10, stopped=8)))
    assert DONE in found["A"].evidence and DONE not in found.get("B", found["A"]).evidence


def test_a_fault_free_window_credits_no_one():
    assert pattern_signal(_incident(_minute(10))) == {}
