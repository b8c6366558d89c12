"""Ranking on small hand-built incidents: the behaviour behind the numbers."""

from __future__ import annotations

import networkx as nx
import numpy as np

from engine.telemetry.model import Alert, Incident, MetricSeries, Window
from engine.telemetry.ranking import rank_root_causes
from engine.telemetry.signals import robust_z

MINUTE = 60.0


def _incident(cpu_by_entity: dict[str, list[float]], p90_by_entity: dict[str, list[float]] | None = None) -> Incident:
    """A -> B -> C chain; 30 quiet minutes of CPU (%) and server p90 latency (s), then the given window values."""
    rng = np.random.default_rng(7)
    times = np.arange(40) * MINUTE
    metrics = {}
    for entity in "ABC":
        values = {}
        for name, normal, window in (("CpuUsageRate(%)", 10.0, cpu_by_entity),
                                     ("PodServerLatencyP90(s)", 0.1, p90_by_entity or {})):
            quiet = normal * (1 + rng.normal(0, 0.05, 30))
            values[name] = np.concatenate([quiet, window.get(entity, [normal] * 10)])
        metrics[entity] = MetricSeries(entity, times, values)
    return Incident(
        case_id="toy",
        system="toy",
        entities=list("ABC"),
        topology=nx.DiGraph([("A", "B"), ("B", "C")]),
        alert=Alert("A", "latency", 30 * MINUTE, "toy alert"),
        window=Window(30 * MINUTE, 39 * MINUTE),
        baseline=Window(0, 30 * MINUTE),
        metrics=metrics,
    )


def test_robust_z_measures_from_the_baseline_in_spread_units():
    baseline = np.array([10.0, 11.0, 9.0, 10.0, 10.5, 9.5])
    assert robust_z(np.array([10.2]), baseline, +1).z < 1
    spike = robust_z(np.array([40.0]), baseline, +1)
    assert spike.z > 10 and spike.value == 40.0 and spike.level == 10.0
    assert robust_z(np.array([40.0]), baseline, -1).z == 0.0


def test_the_only_anomalous_entity_ranks_first_with_its_numbers():
    ranking = rank_root_causes(_incident({"C": [80.0] * 10}))
    assert ranking[0].entity == "C"
    assert "CpuUsageRate(%) 80" in ranking[0].reason


def test_a_caller_whose_callee_is_as_anomalous_ranks_below_it():
    ranking = rank_root_causes(_incident({}, {"B": [1.0] * 10, "C": [1.0] * 10}))
    assert [c.entity for c in ranking[:2]] == ["C", "B"]
    assert ranking[0].score > ranking[1].score


def test_a_callee_anomaly_does_not_explain_away_the_callers_own_cpu():
    """B burns CPU; its callee C is slower on its own, a little less anomalous: C's latency cannot have raised B's
    CPU, so B keeps its whole score and ranks first (with the discount every symptom gets, C came first)."""
    ranking = rank_root_causes(_incident({"B": [60.0] * 10}, {"C": [0.8] * 10}))
    assert [c.entity for c in ranking[:2]] == ["B", "C"]
    assert "CpuUsageRate(%) 60" in ranking[0].reason


def test_nothing_anomalous_gives_zero_scores():
    assert all(c.score < 0.01 for c in rank_root_causes(_incident({})))


def _petshop_like(added_s: float) -> Incident:
    """A -> B -> C with request counts: C's calls wait `added_s` longer in the window, and each caller waits as
    long for each call it makes to C (A and B make one per request; A also serves 9 requests of its own)."""
    rng = np.random.default_rng(3)
    times = np.arange(40) * MINUTE
    requests = {"A": 100.0, "B": 10.0, "C": 10.0}
    normal = {"A": 0.1, "B": 0.3, "C": 0.2}
    metrics = {}
    for entity in "ABC":
        latency = normal[entity] * (1 + rng.normal(0, 0.03, 40))
        latency[30:] += added_s * requests["C"] / requests[entity]  # the same request-seconds at every hop
        metrics[entity] = MetricSeries(entity, times, {"latency.Average": latency,
                                                       "requests.Sum": np.full(40, requests[entity])})
    return Incident(
        case_id="toy", system="toy", entities=list("ABC"), topology=nx.DiGraph([("A", "B"), ("B", "C")]),
        alert=Alert("A", "latency", 30 * MINUTE, "toy alert", metric_family="latency"),
        window=Window(30 * MINUTE, 39 * MINUTE), baseline=Window(0, 25 * MINUTE), metrics=metrics,
    )


def test_the_component_whose_excess_its_callees_do_not_explain_ranks_first():
    ranking = rank_root_causes(_petshop_like(added_s=0.5))
    assert ranking[0].entity == "C"
    assert "request-seconds beyond normal, 0 of them in its callees" in ranking[0].reason
    assert ranking[0].score > 2 * max(c.score for c in ranking[1:])
