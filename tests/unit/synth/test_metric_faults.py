"""The metric side of a fault changes the labelled pod's own series and leaves every other pod's as it was."""

from __future__ import annotations

import numpy as np
import pytest

from engine.synth.catalog import SYSTEM_RANGES, draw_parameters
from engine.synth.metric_faults import DayMetrics, MetricTable, Reach, inject_metrics
from engine.synth.trace_faults import ActiveFault

LATENCIES = ["PodServerLatencyP90(s)", "PodServerLatencyP95(s)", "PodServerLatencyP99(s)"]
HEADER = ["TimeStamp", "CpuUsageRate(%)", "PodSuccessRate(%)", *LATENCIES]
ONSET_S = 600


def _pod() -> MetricTable:
    rows = [{"TimeStamp": str(60 * step), "CpuUsageRate(%)": "10.0", "PodSuccessRate(%)": "0.0",
             **{name: "0.05" for name in LATENCIES}} for step in range(20)]
    return MetricTable(list(HEADER), rows)


def _changed(before: MetricTable, after: MetricTable) -> set[str]:
    return {column for old, new in zip(before.rows, after.rows) for column in HEADER if old[column] != new[column]}


@pytest.mark.parametrize("system, fault_type", sorted(SYSTEM_RANGES))
def test_a_faults_server_latency_moves_on_the_labelled_pod_only(system, fault_type):
    parameters = draw_parameters(fault_type, np.random.default_rng(3), system)
    low, high = SYSTEM_RANGES[(system, fault_type)]["served_latency"]
    assert low <= parameters["served_latency"] <= high
    pods = {"faulty": _pod(), "caller": _pod(), "bystander": _pod()}
    day = DayMetrics(pods=pods, front=None, edges={})
    fault = ActiveFault("faulty", fault_type, parameters, ONSET_S * 10**9, (ONSET_S + 300) * 10**9)
    inject_metrics(day, fault, Reach(["caller"], 0.5), np.random.default_rng(0))
    assert set(LATENCIES) <= _changed(_pod(), pods["faulty"])
    assert _changed(_pod(), pods["bystander"]) == set()
    assert _changed(_pod(), pods["caller"]) <= {"PodClientLatencyP90(s)", "PodClientLatencyP95(s)", "PodClientLatencyP99(s)"}
    before = float(_pod().rows[-8]["PodServerLatencyP90(s)"])
    assert float(pods["faulty"].rows[-8]["PodServerLatencyP90(s)"]) == pytest.approx(before * parameters["served_latency"])
    assert all(row == fresh for row, fresh in zip(pods["faulty"].rows[:10], _pod().rows[:10]))  # nothing before the onset
