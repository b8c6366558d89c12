"""Ranking on small hand-built incidents: the behaviour behind the numbers."""

from __future__ import annotations

import networkx as nx
import numpy as np

from engine.telemetry.model import Alert, Incident, MetricSeries, Window
from engine.telemetry.ranking import rank_root_causes
from engine.telemetry.signals import robust_z

MINUTE = 60.0


def _incident(cpu_by_entity: dict[str, list[float]]) -> Incident:
    """A -> B -> C chain; 30 quiet minutes of CPU, then the given window values."""
    rng = np.random.default_rng(7)
    times = np.arange(40) * MINUTE
    metrics = {}
    for entity in "ABC":
        quiet = 10 + rng.normal(0, 0.5, 30)
        window = cpu_by_entity.get(entity, [10.0] * 10)
        metrics[entity] = MetricSeries(entity, times, {"CpuUsageRate(%)": np.concatenate([quiet, window])})
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
    ranking = rank_root_causes(_incident({"B": [60.0] * 10, "C": [60.0] * 10}))
    assert [c.entity for c in ranking[:2]] == ["C", "B"]
    assert ranking[0].score > ranking[1].score


def test_nothing_anomalous_gives_zero_scores():
    assert all(c.score < 0.01 for c in rank_root_causes(_incident({})))
