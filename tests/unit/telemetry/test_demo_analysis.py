"""The agents' tools on the bundled demo case (a real Train-Ticket route-service exception)."""

from __future__ import annotations

import json
import re

from engine.telemetry.analysis import (
    baseline_comparison,
    dependencies,
    edge_statistics,
    log_statistics,
    metric_query,
    propagation_path,
)
from engine.telemetry.ranking import rank_root_causes

ROOT = "ts-route-service"


def test_demo_loads_without_shared_datasets(demo_incident):
    assert demo_incident.system == "TrainTicket"
    assert demo_incident.alert.entity == "ts-gateway-service"
    assert demo_incident.missing == []
    assert len(demo_incident.spans) > 1000 and len(demo_incident.logs) > 1000
    assert [m.name for m in demo_incident.reference] == ["construct_data/08_50", "rca_data/10_56"]


def test_top_candidate_is_the_faulty_service_with_a_reason_citing_numbers(demo_ranking):
    top = demo_ranking[0]
    assert top.entity == ROOT
    assert 0 < top.score <= 1 and top.score > 2 * demo_ranking[1].score
    assert top.reason.startswith(f"{ROOT}: ")
    assert re.search(r"\d+(\.\d+)?%", top.reason) and "RouteController#53" in top.reason
    assert set(top.evidence) >= {"blame", "pattern"}


def test_ranking_covers_every_entity_and_is_deterministic(demo_incident, demo_ranking):
    again = rank_root_causes(demo_incident)
    assert [(c.entity, c.score) for c in again] == [(c.entity, c.score) for c in demo_ranking]
    assert sorted(c.entity for c in demo_ranking) == sorted(demo_incident.entities)
    assert [c.score for c in demo_ranking] == sorted((c.score for c in demo_ranking), reverse=True)


def test_propagation_path_runs_from_root_to_alerted_entity(demo_incident):
    path = propagation_path(demo_incident, ROOT)
    assert path[0] == ROOT and path[-1] == "ts-gateway-service"
    assert all(demo_incident.topology.has_edge(caller, callee) for callee, caller in zip(path, path[1:]))


def test_dependencies_name_callers_of_route_service(demo_incident):
    found = dependencies(demo_incident, ROOT)
    assert "ts-travel-service" in found["upstream"]
    assert "error" in dependencies(demo_incident, "no-such-service")


def test_edge_statistics_compare_window_with_baseline(demo_incident):
    rows = edge_statistics(demo_incident, ROOT)
    into_route = [r for r in rows if r["callee"] == ROOT]
    assert into_route and all(r["caller"] != ROOT for r in into_route)
    busiest = max(into_route, key=lambda r: r["calls_per_min"])
    assert busiest["calls_per_min"] > 10 and busiest["baseline_calls_per_min"] > 10
    assert busiest["mean_ms"] > 0 and busiest["p95_ms"] >= busiest["mean_ms"] * 0.5
    json.dumps(rows)


def test_log_statistics_count_per_minute_against_baseline(demo_incident):
    stats = log_statistics(demo_incident)
    route = stats[ROOT]
    assert route["logs_per_min"] > 0 and route["baseline_logs_per_min"] > 0
    assert set(stats) >= {"ts-travel-service", ROOT}
    json.dumps(stats)


def test_metric_query_and_baseline_comparison(demo_incident):
    cpu = metric_query(demo_incident, ROOT, "CpuUsageRate")
    series = cpu["metrics"]["CpuUsageRate(%)"]
    assert len(series["values"]) == len(series["times"]) >= 3
    assert series["max"] >= series["mean"] > 0
    compared = baseline_comparison(demo_incident, ROOT)
    assert compared["CpuUsageRate(%)"]["normal"] > 0 and compared["CpuUsageRate(%)"]["z"] >= 0
    json.dumps([cpu, compared])
