"""A pod that fills its container's limit (a CPU stress, a leak) is the cause an SRE reads first, even where its use
swings so much all day that its robust z stays small; a pod whose use comes near its limit now and then all
day is not."""

from __future__ import annotations

import networkx as nx
import numpy as np

from engine.telemetry.model import Alert, Incident, MetricSeries, Window
from engine.telemetry.ranking import rank_root_causes
from engine.telemetry.signals import saturation_signal

DAY_MINUTES, ALERT_MINUTE = 180, 150
MINUTES = np.arange(DAY_MINUTES)


def _incident(cpu: dict[str, np.ndarray]) -> Incident:
    """Three hours of one-minute CPU samples (% of each pod's limit); F calls B and C; the alert at ALERT_MINUTE."""
    alert = ALERT_MINUTE * 60.0
    return Incident(
        case_id="toy", system="toy", entities=["F", "B", "C"], topology=nx.DiGraph([("F", "B"), ("F", "C")]),
        alert=Alert("F", "latency", alert, "toy alert"), window=Window(alert, alert + 180.0),
        baseline=Window(alert - 1860.0, alert - 60.0),
        metrics={entity: MetricSeries(entity, MINUTES * 60.0, {"CpuUsageRate(%)": values})
                 for entity, values in cpu.items()},
    )


def _day(b_at_limit: np.ndarray) -> Incident:
    """B's CPU swings between 15 and 45 % all day and runs at 90 % where `b_at_limit`; C's sits at 2 % and rises to
    12 % from the alert on: ten times its level, far more robust spreads than B's rise."""
    rng = np.random.default_rng(3)
    b = 30.0 + 15.0 * np.sin(MINUTES / 3.0) + rng.normal(0, 1.0, DAY_MINUTES)
    b[b_at_limit] = 90.0
    c = 2.0 + rng.normal(0, 0.05, DAY_MINUTES)
    c[MINUTES >= ALERT_MINUTE] = 12.0
    f = 10.0 + rng.normal(0, 0.5, DAY_MINUTES)
    return _incident({"F": f, "B": b, "C": c})


def test_a_pod_that_fills_its_cpu_limit_ranks_first_though_its_cpu_always_swings():
    ranking = rank_root_causes(_day(b_at_limit=MINUTES >= ALERT_MINUTE))
    assert ranking[0].entity == "B"
    assert "room left under its limit" in ranking[0].reason


def test_a_pod_that_comes_near_its_limit_now_and_then_all_day_does_not_top_a_fault_elsewhere():
    for seed in range(10):
        day = _day(b_at_limit=np.zeros(DAY_MINUTES, dtype=bool))
        day.metrics["B"].values["CpuUsageRate(%)"] = np.random.default_rng(seed).uniform(30.0, 95.0, DAY_MINUTES)
        assert rank_root_causes(day)[0].entity == "C", seed


def test_a_pod_already_at_its_limit_or_using_less_shows_no_saturation():
    steady_high = np.full(DAY_MINUTES, 97.0)
    falling = np.where(MINUTES >= ALERT_MINUTE, 5.0, 40.0)
    signal = saturation_signal(_incident({"F": steady_high, "B": falling, "C": np.full(DAY_MINUTES, 3.0)}))
    assert signal == {}


def test_a_leak_counts_what_it_holds_at_the_end_of_the_window_not_its_average():
    memory = np.full(DAY_MINUTES, 30.0)
    memory[MINUTES >= ALERT_MINUTE] = 30.0 + 10.0 * (MINUTES[MINUTES >= ALERT_MINUTE] - ALERT_MINUTE + 1)
    day = _incident({"F": np.full(DAY_MINUTES, 10.0), "B": np.full(DAY_MINUTES, 10.0), "C": np.full(DAY_MINUTES, 3.0)})
    day.metrics["B"].values["MemoryUsageRate(%)"] = memory  # 40, 50, 60, 70 % over the window's four samples
    assert saturation_signal(day)["B"].score == (70.0 - 30.0) / (100.0 - 30.0)


def test_a_pod_without_samples_in_the_window_shows_no_saturation():
    stopped = np.where(MINUTES >= ALERT_MINUTE, np.nan, 30.0)
    day = _incident({"F": np.full(DAY_MINUTES, 10.0), "B": stopped, "C": np.full(DAY_MINUTES, 3.0)})
    day.metrics["B"].values["MemoryUsageRate(%)"] = stopped
    assert saturation_signal(day) == {}
    before_the_window = _incident({entity: series.values["CpuUsageRate(%)"][:ALERT_MINUTE]
                                   for entity, series in day.metrics.items()})
    for series in before_the_window.metrics.values():
        series.times = series.times[:ALERT_MINUTE]
        series.values["MemoryUsageRate(%)"] = series.values["CpuUsageRate(%)"]
    assert saturation_signal(before_the_window) == {}
