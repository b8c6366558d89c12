"""The metric noise floors read ~40 earlier stretches of every series at once (issue 12: `eval rca` under 2 CPU-s a
case); each stretch must get the very figures a one-stretch-at-a-time reading with np.median gives, to the last bit,
or rankings would move."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from engine.telemetry.deviations import NO_DEVIATION, Deviation, row_medians
from engine.telemetry.model import Alert, Incident, MetricSeries, Window
from engine.telemetry.ranking import _earlier_stretches
from engine.telemetry.signals import (
    CLIMBING,
    RECENT_SECONDS,
    _metric_rule,
    climb_z,
    edge_metric_signal,
    edge_metric_signals,
    metric_deviations_over,
    metric_signal,
    metric_signals,
)

NEZHA = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "rca" / "nezha"
DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"


def _textbook_robust_z(window, baseline, direction, floor, recent) -> Deviation:
    """robust_z as it read before the stretches were batched: np.median on each period's finite samples."""
    window, baseline = window[np.isfinite(window)], baseline[np.isfinite(baseline)]
    if len(window) == 0 or len(baseline) == 0:
        return NO_DEVIATION
    level = float(np.median(baseline))
    spread = max(1.4826 * float(np.median(np.abs(baseline - level))), 0.1 * abs(level), floor)
    if np.isfinite(recent).any():
        level = float(np.median(recent[np.isfinite(recent)]))
    worst = float(window.max() if direction > 0 else window.min())
    z = max((worst - level) * direction, 0.0) / spread
    if direction > 0 and level > 0:
        z *= min(1.0, np.log(max(worst, level) / level) / np.log(2.0))
    return Deviation(float(z), worst, level)


def _textbook_deviations(incident: Incident, series: MetricSeries, direction: int | None = None) -> dict:
    window = series.between(incident.window.start, incident.window.end + 60)
    baseline = series.between(incident.baseline.start, incident.baseline.end)
    recent = series.between(incident.window.start - RECENT_SECONDS, incident.window.start)
    found = {}
    for name in series.values:
        rule_sign, _, floor = _metric_rule(name)
        sign = direction if direction is not None else rule_sign
        if sign:
            found[name] = _textbook_robust_z(window[name], baseline[name], sign, floor, recent[name])
        if name.startswith(CLIMBING):
            climb = climb_z(window[name], baseline[name], recent[name], floor)
            found[name] = max(found[name], climb, key=lambda d: d.z)
    return found


def _same(found: dict[str, Deviation], expected: dict[str, Deviation]) -> bool:
    """Equal to the bit (NaN equal to NaN, 0.0 not equal to -0.0)."""
    as_bits = lambda deviations: {name: np.array([d.z, d.value, d.level]).tobytes() for name, d in deviations.items()}
    return as_bits(found) == as_bits(expected)


def _assert_stretches_read_at_once_as_one_by_one(stretches: list[Incident]) -> None:
    batched = metric_deviations_over(stretches)
    for stretch, found in zip(stretches, batched):
        for entity, series in stretch.metrics.items():
            assert _same(found[entity], _textbook_deviations(stretch, series)), (stretch.window, entity)
    assert metric_signals(stretches) == [metric_signal(stretch) for stretch in stretches]
    assert edge_metric_signals(stretches) == [edge_metric_signal(stretch) for stretch in stretches]
    for stretch, signals in zip(stretches, edge_metric_signals(stretches)):
        for (caller, callee), series in stretch.edge_metrics.items():
            expected = _textbook_deviations(stretch, series, direction=+1)
            key = f"{caller}->{callee}"
            assert signals[callee].evidence[key] == max(d.z for d in expected.values())


def test_row_medians_are_numpys_median_of_each_rows_finite_values_to_the_bit():
    rng = np.random.default_rng(12)
    pool = np.array([-0.0, 0.0, 1.0, -1.0, 0.5, 2.5, 3.0, np.nan, np.inf, -np.inf])
    rows = [rng.choice(pool, rng.integers(0, 12)) if k % 2 else rng.normal(size=rng.integers(0, 12)).round(1)
            for k in range(4000)]
    width = max(len(row) for row in rows)
    padded = np.array([np.concatenate([row, np.full(width - len(row), np.nan)]) for row in rows])
    expected = np.array([np.median(row[np.isfinite(row)]) if np.isfinite(row).any() else np.nan for row in rows])
    assert row_medians(padded).tobytes() == expected.tobytes()


def test_stretches_with_gaps_and_uneven_sampling_read_at_once_equal_each_read_alone():
    """Samples missing (NaN, inf) and a time axis with jitter and a hole: each stretch's periods hold different
    numbers of samples, padded in the batch."""
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.choice([59.0, 60.0, 61.0], 400)) + 1_000_000.0
    times = np.delete(times, np.arange(150, 170))  # an hour's hole in the history
    def metric(level: float) -> np.ndarray:
        values = level * (1 + rng.normal(0, 0.1, len(times)))
        values[rng.random(len(times)) < 0.08] = np.nan
        values[rng.random(len(times)) < 0.01] = np.inf
        return values
    levels = {"CpuUsageRate(%)": 20.0, "MemoryUsageRate(%)": 40.0, "PodServerLatencyP99(s)": 0.05,
              "PodSuccessRate(%)": 99.0, "NetworkReceiveBytes": 1e5}  # the last has no rule: left unread
    metrics = {entity: MetricSeries(entity, times, {name: metric(level) for name, level in levels.items()})
               for entity in ("A", "B")}
    edges = {("A", "B"): MetricSeries("A_B", times, {"latency_p50(s)": metric(0.01)})}
    end = float(times[-30])
    incident = Incident("toy", "toy", ["A", "B"], nx.DiGraph([("A", "B")]), Alert("A", "latency", end, "toy"),
                        Window(end, end + 180.0), Window(end - 1860.0, end - 60.0), metrics, edges)
    stretches = _earlier_stretches(incident)
    assert len(stretches) > 30
    _assert_stretches_read_at_once_as_one_by_one([incident, *stretches, replace(incident, window=Window(0.0, 60.0))])


def test_the_demo_cases_stretches_read_at_once_equal_each_read_alone():
    from engine.telemetry.dataset import load_case

    incident = load_case(DEMO, "tt-2023-01-29-18")
    _assert_stretches_read_at_once_as_one_by_one([incident, *_earlier_stretches(incident)])


@pytest.mark.skipif(not NEZHA.is_dir(), reason="needs ../shared/datasets/rca/nezha")
@pytest.mark.parametrize("case_id", ["ob-2022-08-23-20", "tt-2023-01-29-20"])
def test_a_real_cases_forty_stretches_read_at_once_equal_each_read_alone(case_id):
    from engine.telemetry.dataset import load_case

    incident = load_case(NEZHA, case_id)
    stretches = _earlier_stretches(incident)
    assert len(stretches) == 40
    _assert_stretches_read_at_once_as_one_by_one([incident, *stretches])
