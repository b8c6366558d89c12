"""The agents name the service a test made slow or failing, from the shop's own OTLP traces, logs and Prometheus."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request

from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.runner import run_incident
from engine.runs.session import Session
from engine.telemetry.own import OwnTelemetry, load_own_incident

ALERT_RULE = {"slow": "FrontendSlow", "error": "FrontendFailing"}


def rca(db, *args):
    return subprocess.run([sys.executable, "-m", "rca_tui", "run", *map(str, args), "--db", str(db), "--json"],
                          capture_output=True, text=True, timeout=300)


def test_traces_and_logs_alone_name_the_injected_service(faulty_shop, tmp_path):
    incident = load_own_incident(OwnTelemetry(otel=faulty_shop.traces, logs=faulty_shop.logs,
                                              alert_time=str(faulty_shop.injected_at)))
    assert incident.alert.entity == "frontend"  # where the shop's traces start
    assert set(incident.topology.edges) == {("frontend", "cart"), ("frontend", "checkout"), ("checkout", "payment")}
    assert incident.reference and incident.spans and incident.logs
    result = run_incident(Session(tmp_path / "rca.db"), incident, HeuristicReasoner())
    assert result["root_cause"] == faulty_shop.culprit


def test_prometheus_alert_rule_through_the_cli_names_the_injected_service(faulty_shop, shop_prometheus,
                                                                          prometheus_files, tmp_path):
    queries, rules = prometheus_files
    done = rca(tmp_path / "rca.db", "--otel", faulty_shop.traces, "--logs", faulty_shop.logs,
               "--prometheus", shop_prometheus, "--prometheus-queries", queries,
               "--alert-rule", rules, "--alert-name", ALERT_RULE[faulty_shop.mode])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["root_cause"] == faulty_shop.culprit
    run_alert = _alert_of(tmp_path / "rca.db", result["run_id"])
    assert run_alert["entity"] == "frontend"
    assert faulty_shop.injected_at - 1 <= run_alert["time"] <= faulty_shop.injected_at + 3


def test_saved_query_range_json_works_like_the_live_server(faulty_shop, shop_prometheus, tmp_path):
    saved = {name: _query_range(shop_prometheus, promql, faulty_shop.injected_at)
             for name, promql in (("average_duration", "app_request_duration_ms"),
                                  ("error_rate", "app_request_error_ratio"))}
    metrics_file = tmp_path / "metrics.json"
    metrics_file.write_text(json.dumps(saved))
    incident = load_own_incident(OwnTelemetry(otel=faulty_shop.traces, prometheus=str(metrics_file),
                                              alert_time=str(faulty_shop.injected_at)))
    assert set(incident.metrics) == {"frontend", "cart", "checkout", "payment"}
    assert incident.metrics["frontend"].values["average_duration"].size > 1000
    result = run_incident(Session(tmp_path / "rca.db"), incident, HeuristicReasoner())
    assert result["root_cause"] == faulty_shop.culprit


def _query_range(url: str, promql: str, around: float) -> dict:
    query = urllib.parse.urlencode({"query": promql, "start": around - 1800, "end": around + 60, "step": "1s"})
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{query}", timeout=10) as response:
        return json.loads(response.read())


def _alert_of(db, run_id: str) -> dict:
    events = Session(db).run_events(run_id)
    return next(e.payload["alert"] for e in events if isinstance(e.payload, dict) and "alert" in e.payload)
