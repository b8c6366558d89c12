"""Trace edits on a hand-made trace: gateway -> caller -> (target, then other); target -> db."""
from __future__ import annotations

import numpy as np
import pytest

from engine.synth.spans import span_row
from engine.synth.trace_faults import ActiveFault, inject_traces

MS = 1_000_000
ONSET = 1_000 * MS


def _span(span_id, parent, service, start_ms, duration_ms, operation="op", trace="t1"):
    start = ONSET + start_ms * MS
    return span_row({"TraceID": trace, "SpanID": span_id, "ParentID": parent or "root", "PodName": f"{service}-abc12-xyz12",
                     "OperationName": operation, "StartTimeUnixNano": str(start), "EndTimeUnixNano": str(start + duration_ms * MS),
                     "Duration": str(duration_ms * 1000)})


def _trace(offset_ms=0):
    return [_span("g", "", "gateway", offset_ms, 100), _span("c", "g", "caller", offset_ms + 5, 90),
            _span("s", "c", "target", offset_ms + 10, 40), _span("d", "s", "db", offset_ms + 20, 10),
            _span("o", "c", "other", offset_ms + 60, 20)]


def _fault(fault_type, **parameters):
    return ActiveFault("target", fault_type, parameters, ONSET, ONSET + 300_000 * MS)


def _by_id(spans):
    return {span.span_id: span for span in spans}


def test_delay_moves_the_callee_and_lengthens_every_caller_up_to_the_root():
    spans = _trace()
    inject_traces(spans, _fault("network_delay", delay_ms=200), np.random.default_rng(0))
    s = _by_id(spans)
    added = (s["g"].end_ns - s["g"].start_ns) - 100 * MS
    assert 170 * MS <= added <= 230 * MS
    assert s["c"].end_ns - s["c"].start_ns == 90 * MS + added
    assert s["s"].start_ns == ONSET + 10 * MS + added and s["s"].duration_us == 40_000  # its own work unchanged
    assert s["o"].start_ns == ONSET + 60 * MS + added  # the next call waits for the slow one
    assert s["g"].duration_us == 100_000 + added // 1000


def test_nothing_changes_before_the_onset():
    spans = _trace(offset_ms=-500)
    before = [(span.start_ns, span.end_ns) for span in spans]
    edits = inject_traces(spans, _fault("network_delay", delay_ms=200), np.random.default_rng(0))
    assert [(span.start_ns, span.end_ns) for span in spans] == before and not edits.shifted_ns


def test_loss_drops_the_call_and_the_caller_waits_out_its_retransmits_and_fails():
    spans = _trace()
    edits = inject_traces(spans, _fault("network_loss", loss=1.0, rto_ms=200), np.random.default_rng(0))
    s = _by_id(spans)
    assert edits.dropped == {"s", "d"}
    assert [span.span_id for span in edits.failing] == ["c"]
    assert s["c"].end_ns - s["c"].start_ns == (90 - 40 + 7 * 200) * MS


def test_loss_makes_most_hit_calls_wait_whole_retransmit_timeouts_and_few_fail():
    """Half the packets lost: about half the calls wait 1 RTO or 3 (lost twice), an eighth of them time out."""
    waits, failed = [], 0
    for seed in range(400):
        spans = _trace()
        edits = inject_traces(spans, _fault("network_loss", loss=0.5, rto_ms=200), np.random.default_rng(seed))
        failed += bool(edits.failing)
        if not edits.failing:
            waits.append((_by_id(spans)["c"].end_ns - _by_id(spans)["c"].start_ns) // MS - 90)
    assert set(waits) == {0, 200, 600}
    assert 0.4 < waits.count(0) / 400 < 0.6 and 0.07 < failed / 400 < 0.19


def test_cpu_slowdown_stretches_own_work_not_the_waits_on_others():
    spans = _trace()
    inject_traces(spans, _fault("cpu_consumed", slowdown=2.0), np.random.default_rng(0))
    s = _by_id(spans)
    added = s["s"].end_ns - s["s"].start_ns - 40 * MS  # own work 30 ms (40 minus the 10 ms db call)
    assert 0.7 * 30 * MS <= added <= 1.3 * 30 * MS
    assert s["g"].end_ns - s["g"].start_ns == 100 * MS + added
    assert s["d"].duration_us == 10_000


def test_exception_keeps_the_requests_work_throws_at_its_last_line_and_its_caller_stops_there():
    """As the real Online Boutique exception: the root's own spans and calls stay, its caller's handling ends."""
    spans = _trace()
    edits = inject_traces(spans, _fault("exception", error_rate=1.0, caller_stops=1.0, caller_logs=1.0),
                          np.random.default_rng(0))
    s = _by_id(spans)
    assert "d" not in edits.dropped and s["s"].duration_us == 40_000 and s["d"].duration_us == 10_000
    assert edits.thrown == {"s": "s"}  # its request throws (its last line goes: engine.synth.logs)
    assert not edits.failing and [span.span_id for span in edits.uncaught] == ["c"]
    assert "o" in edits.dropped and edits.stopped_ns["c"] == s["s"].end_ns  # the error ends the caller's handling
    assert s["c"].end_ns == s["s"].end_ns and s["g"].end_ns - s["g"].start_ns < 100 * MS


def test_exception_whose_error_does_not_reach_the_caller_leaves_the_callers_request_whole():
    """As the real Train-Ticket exceptions: the caller goes on."""
    spans = _trace()
    before = [(span.start_ns, span.end_ns) for span in spans]
    edits = inject_traces(spans, _fault("exception", error_rate=1.0, caller_stops=0.0, caller_logs=1.0),
                          np.random.default_rng(0))
    assert edits.thrown == {"s": "s"} and not edits.stopped_ns and not edits.dropped and not edits.uncaught
    assert [(span.start_ns, span.end_ns) for span in spans] == before


def test_exception_throws_in_the_services_busiest_operation_only():
    spans = [_span(f"{name}{i}", "", "target", 10 * i, 5, operation, trace=f"{name}{i}")
             for name, operation, count in (("a", "query", 3), ("b", "update", 1)) for i in range(count)]
    edits = inject_traces(spans, _fault("exception", error_rate=1.0, caller_stops=1.0, caller_logs=0.0),
                          np.random.default_rng(0))
    assert set(edits.thrown) == {"a0", "a1", "a2"} and not edits.dropped


def test_wrong_return_logs_at_the_service_and_stops_the_callers_handling_after_the_call():
    spans = _trace()
    edits = inject_traces(spans, _fault("return", wrong_rate=1.0, caller_logs=1.0), np.random.default_rng(0))
    s = _by_id(spans)
    assert "o" in edits.dropped and "s" not in edits.dropped and s["s"].duration_us == 40_000
    assert [span.span_id for span in edits.failing] == ["s"] and [span.span_id for span in edits.uncaught] == ["c"]
    assert edits.stopped_ns["c"] == s["s"].end_ns


@pytest.mark.parametrize("fault_type", ["network_delay", "exception"])
def test_an_uninvolved_service_is_left_alone(fault_type):
    spans = _trace()
    before = [(span.start_ns, span.end_ns) for span in spans]
    fault = ActiveFault("nobody", fault_type, {"delay_ms": 200, "error_rate": 1.0, "caller_stops": 1.0,
                                                "caller_logs": 1.0}, ONSET, ONSET + 300_000 * MS)
    inject_traces(spans, fault, np.random.default_rng(0))
    assert [(span.start_ns, span.end_ns) for span in spans] == before


def test_a_request_cut_short_keeps_a_call_already_sent_whole_and_never_sends_the_later_ones():
    """No client span is left without its server span (that would read as a call lost on the network)."""
    spans = [_span("s", "", "target", 10, 40),  # a front door: its wrong answer stops its own handling
             _span("k1", "s", "target", 17, 10), _span("d1", "k1", "db", 23, 3),  # sent before the cut, served after
             _span("k2", "s", "target", 30, 8), _span("d2", "k2", "db", 31, 5)]
    edits = inject_traces(spans, _fault("return", wrong_rate=1.0, kept_share=0.25, caller_logs=0.0),
                          np.random.default_rng(0))
    assert {"k2", "d2"} <= edits.dropped and not {"k1", "d1"} & edits.dropped
    s = _by_id(spans)
    assert s["d1"].start_ns >= s["k1"].start_ns and s["s"].end_ns - s["s"].start_ns < 40 * MS


def test_a_call_already_sent_is_served_in_full_down_to_its_own_calls():
    """The callee of a call sent before the cut does all its work, its later calls too."""
    spans = [_span("s", "", "target", 10, 40),  # a front door: its wrong answer stops its own handling
             _span("k1", "s", "target", 12, 30), _span("d1", "k1", "db", 13, 28),  # sent before the cut
             _span("e1", "d1", "db", 35, 4)]  # db's own later step, after the cut
    edits = inject_traces(spans, _fault("return", wrong_rate=1.0, kept_share=0.25, caller_logs=0.0),
                          np.random.default_rng(0))
    assert not {"k1", "d1", "e1"} & edits.dropped
