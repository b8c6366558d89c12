"""Own telemetry formats, and bad input: an error naming the source and line, exit 1, nothing written."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest

from engine.telemetry.errors import TelemetryError
from engine.telemetry.logfiles import read_log_files
from engine.telemetry.otel import read_otlp_traces
from engine.telemetry.own import OwnTelemetry, load_own_incident
from engine.telemetry.prometheus import QueryConfig, fetch_metrics, read_saved_metrics

T0 = 1_700_000_000


def otlp_line(service: str, span_id: str, parent: str, start: float, ms: float, error: bool = False) -> str:
    span = {"traceId": "ab" * 16, "spanId": span_id, "parentSpanId": parent, "name": f"GET /{service}", "kind": 2,
            "startTimeUnixNano": str(int(start * 1e9)), "endTimeUnixNano": str(int((start + ms / 1000) * 1e9)),
            "status": {"code": 2, "message": "boom"} if error else {}}
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]})


@pytest.fixture
def traces(tmp_path):
    path = tmp_path / "traces.jsonl"
    path.write_text("\n".join([otlp_line("web", "01" * 8, "", T0, 12.0),
                               otlp_line("db", "02" * 8, "01" * 8, T0 + 0.001, 10.0, error=True)]) + "\n")
    return path


def test_otlp_lines_become_spans_services_and_error_logs(traces):
    read = read_otlp_traces(traces)
    assert [(s.entity, s.parent_id, round(s.duration_ms, 3)) for s in read.spans] == [("web", "", 12.0),
                                                                                      ("db", "01" * 8, 10.0)]
    assert [(r.entity, r.level, r.span_id) for r in read.logs] == [("db", "ERROR", "02" * 8)]


def test_truncated_otlp_line_names_file_and_line(traces):
    traces.write_text(traces.read_text() + otlp_line("web", "03" * 8, "", T0 + 1, 5.0)[:90] + "\n")
    with pytest.raises(TelemetryError, match=r"traces\.jsonl:3: not a complete JSON object"):
        read_otlp_traces(traces)


def test_log_formats_json_text_and_file_per_service(tmp_path):
    (tmp_path / "checkout.log").write_text("2024-05-01T12:00:00.5Z ERROR payment declined id=42\n"
                                           "2024-05-01 12:00:01,250 INFO service=cart span_id=ab12 added\n")
    (tmp_path / "web.jsonl").write_text(json.dumps({"ts": 1714564802000, "severity": "warn", "msg": "slow"}) + "\n")
    records = read_log_files(tmp_path)
    assert [(r.time, r.entity, r.level, r.span_id) for r in records] == [
        (1714564800.5, "checkout", "ERROR", ""), (1714564801.25, "cart", "INFO", "ab12"),
        (1714564802.0, "web", "WARN", "")]
    assert records[0].template == "ERROR payment declined id=<n>"


def test_logs_without_timestamps_name_file_and_line(tmp_path):
    (tmp_path / "app.log").write_text("2024-05-01T12:00:00Z INFO started\nERROR something broke\n")
    with pytest.raises(TelemetryError, match=r"app\.log:2: no timestamp at the start of the line"):
        read_log_files(tmp_path)
    (tmp_path / "app.log").write_text(json.dumps({"level": "error", "message": "no time"}) + "\n")
    with pytest.raises(TelemetryError, match=r"app\.log:1: no timestamp; expected one of the fields time"):
        read_log_files(tmp_path)


def test_saved_query_range_needs_one_series_per_service(tmp_path):
    response = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"service": "db", "instance": "a"}, "values": [[T0, "1"], [T0 + 15, "2"]]},
        {"metric": {"service": "db", "instance": "b"}, "values": [[T0, "3"]]}]}}
    saved = tmp_path / "m.json"
    saved.write_text(json.dumps({"error_rate": response}))
    with pytest.raises(TelemetryError, match=r"m\.json: 'error_rate' returns several series for service=db"):
        read_saved_metrics(saved, QueryConfig())
    response["data"]["result"].pop()
    saved.write_text(json.dumps({"error_rate": response}))
    series = read_saved_metrics(saved, QueryConfig())["db"]
    assert series.times.tolist() == [T0, T0 + 15] and series.values["error_rate"].tolist() == [1.0, 2.0]


def test_prometheus_that_refuses_is_named():
    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(TelemetryError, match=rf"{url}: cannot reach Prometheus .*refused"):
            fetch_metrics(url, QueryConfig({"error_rate": "up"}), T0, T0 + 60)


def test_prometheus_that_never_answers_times_out():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        accepted = []
        threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(TelemetryError, match=rf"{url}: Prometheus did not answer .*within 0.3 s"):
            fetch_metrics(url, QueryConfig({"error_rate": "up"}, timeout_seconds=0.3), T0, T0 + 60)


def test_alert_time_must_fall_inside_the_telemetry(traces):
    with pytest.raises(TelemetryError, match="before the alert"):
        load_own_incident(OwnTelemetry(otel=traces, alert_time=str(T0 + 3600)))
    with pytest.raises(TelemetryError, match="no alert: give --alert-time"):
        load_own_incident(OwnTelemetry(otel=traces))


def test_cli_bad_input_exits_1_without_traceback_or_database(traces, tmp_path):
    traces.write_text(traces.read_text() + '{"resourceSpans": [{"resource"\n')
    db = tmp_path / "rca.db"
    done = subprocess.run([sys.executable, "-m", "rca_tui", "run", "--otel", str(traces), "--alert-time", str(T0),
                           "--db", str(db)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "traces.jsonl:3: not a complete JSON object" in done.stderr and "Traceback" not in done.stderr
    assert not db.exists()
