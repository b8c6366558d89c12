"""Log edits of the code faults: a stopped handling writes nothing more, a failing service prints one of its own
application ERROR lines, a failed call the framework's line."""
from __future__ import annotations

import json

import numpy as np

from engine.synth.logs import ErrorTemplates, edited_logs
from engine.synth.spans import TraceEdits, span_row
from engine.telemetry.nezha_files import parse_log_message

FRAMEWORK = "ERROR o.a.c.c.C.[.[.[.[dispatcherServlet]#175 Servlet.service() threw exception"


def _row(service, span_id, at_ns, text):
    return {"Timestamp": "", "TimeUnixNano": str(at_ns), "PodName": f"{service}-abc12-xyz12", "TraceID": "t1",
            "SpanID": span_id, "Log": json.dumps({"log": f"10:00:00.000 {text}\n"})}


def _span(service, span_id, end_ns):
    return span_row({"TraceID": "t1", "SpanID": span_id, "ParentID": "root", "PodName": f"{service}-abc12-xyz12",
                     "OperationName": "op", "StartTimeUnixNano": "0", "EndTimeUnixNano": str(end_ns),
                     "Duration": str(end_ns // 1000)})


SOURCE_ERRORS = [_row("orders", "x1", 1, "ERROR o.s.OrderServiceImpl#90 [find][Order Not Found]"),
                 _row("orders", "x2", 2, FRAMEWORK), _row("gateway", "x3", 3, FRAMEWORK)]


def _messages(rows):
    return [parse_log_message(row["Log"])[1] for row in rows]


def test_a_stopped_handling_logs_nothing_after_it_stopped():
    rows = [_row("orders", "s", 10, "INFO start"), _row("orders", "s", 30, "INFO done")]
    edits = TraceEdits(stopped_ns={"s": 20})
    kept = edited_logs(rows, edits, ErrorTemplates(SOURCE_ERRORS), np.random.default_rng(0))
    assert [m.split()[-1] for m in _messages(kept)] == ["start"]


def test_a_request_that_threw_loses_its_last_own_line_and_nothing_before_it():
    """As the real Train-Ticket exceptions: the statement at the throw (the request's last) falls silent."""
    rows = [_row("orders", "s", 10, "INFO start"), _row("orders", "s2", 30, "INFO found"),
            _row("orders", "s", 40, "INFO done"), _row("orders", "t", 50, "INFO other request")]
    edits = TraceEdits(thrown={"s": "s", "s2": "s"})
    kept = edited_logs(rows, edits, ErrorTemplates(SOURCE_ERRORS), np.random.default_rng(0))
    assert [m.split()[-1] for m in _messages(kept)] == ["start", "found", "request"]


def test_a_failing_service_prints_its_own_line_and_a_failed_call_the_frameworks():
    edits = TraceEdits(failing=[_span("orders", "s", 50_000_000)], uncaught=[_span("orders", "c", 60_000_000)])
    for seed in range(5):
        kept = edited_logs([], edits, ErrorTemplates(SOURCE_ERRORS), np.random.default_rng(seed))
        own, framework = sorted(kept, key=lambda row: row["SpanID"], reverse=True)
        assert "Order Not Found" in _messages([own])[0] and "dispatcherServlet" in _messages([framework])[0]
