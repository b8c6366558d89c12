"""A service that strays while all is well (issue 12, item 4): what it shows in the day's fault-free minutes (its
habits) or in the hours of metrics before the alert (a periodic job's spikes) says little about it, so it must not
top a window where another service breaks a habit or burns CPU, nor stand out in a window that only looks like its
usual strays."""

from __future__ import annotations

from dataclasses import replace

import networkx as nx
import numpy as np

from engine.telemetry.model import Alert, Incident, LogRecord, MetricSeries, ReferenceMinute, Span, Window
from engine.telemetry.ranking import MODALITIES, NOISE_MODALITIES, NOISE_QUANTILE, noise_floors, rank_root_causes
from engine.telemetry.signals import NO_SIGNAL

CALLS = 20  # requests per minute; F calls X (which calls Y) and Z, and Y and Z each log one line per request
Minute = tuple[list[Span], list[LogRecord]]


def _minute(minute: int, y_silent: float = 0.0, z_silent: float = 0.0) -> Minute:
    """One minute of requests; `y_silent` / `z_silent`: the share of requests in which Y / Z skip their usual line."""
    spans, logs = [], []
    for k in range(CALLS):
        t, tag = minute * 60.0 + 2.5 * k, f"{minute}-{k}"
        spans += [Span(tag, f"f{tag}", "", "F", "F.handle", t, 400.0),
                  Span(tag, f"fx{tag}", f"f{tag}", "F", "call X", t + 0.001, 90.0),
                  Span(tag, f"x{tag}", f"fx{tag}", "X", "X.serve", t + 0.002, 80.0),
                  Span(tag, f"xy{tag}", f"x{tag}", "X", "call Y", t + 0.010, 30.0),
                  Span(tag, f"y{tag}", f"xy{tag}", "Y", "Y.serve", t + 0.011, 20.0),
                  Span(tag, f"fz{tag}", f"f{tag}", "F", "call Z", t + 0.200, 20.0),
                  Span(tag, f"z{tag}", f"fz{tag}", "Z", "Z.serve", t + 0.201, 10.0)]
        if k >= y_silent * CALLS:
            logs.append(LogRecord(t + 0.012, "Y", f"y{tag}", "INFO", "y.Serve#10 answered"))
        if k >= z_silent * CALLS:
            logs.append(LogRecord(t + 0.202, "Z", f"z{tag}", "INFO", "z.Serve#20 answered"))
    return spans, logs


def _incident(window: Minute, reference: list[Minute]) -> Incident:
    spans, logs = window
    return Incident(
        case_id="toy", system="toy", entities=["F", "X", "Y", "Z"],
        topology=nx.DiGraph([("F", "X"), ("F", "Z"), ("X", "Y")]),
        alert=Alert("F", "latency", 600.0, "toy alert"), window=Window(600.0, 660.0), baseline=Window(-1200.0, 540.0),
        spans=spans, logs=logs, window_trace_minutes=1.0,
        reference=[ReferenceMinute(f"ref{m}", tuple(s), tuple(r)) for m, (s, r) in enumerate(reference)],
    )


def _day(noisy_minutes: int) -> list[Minute]:
    """Five fault-free minutes; in the first `noisy_minutes` of them Z skips its line in half of its requests."""
    return [_minute(m, z_silent=0.5 if m < noisy_minutes else 0.0) for m in range(5)]


def test_a_service_that_strays_on_a_fault_free_day_does_not_top_a_fault_elsewhere():
    window = _minute(10, y_silent=0.4, z_silent=0.5)  # Z strays as it does now and then; Y breaks its habit
    assert rank_root_causes(_incident(window, _day(noisy_minutes=2)))[0].entity == "Y"
    assert rank_root_causes(_incident(window, _day(noisy_minutes=0)))[0].entity == "Z"  # Z never strayed: Z's


def test_a_window_that_only_repeats_the_days_strays_puts_nobody_half_way_in_any_modality():
    window = _minute(10, z_silent=0.5)
    noisy_day = rank_root_causes(_incident(window, _day(noisy_minutes=2)))
    assert all(value < 0.5 for candidate in noisy_day for value in candidate.evidence.values())
    steady_day = rank_root_causes(_incident(window, _day(noisy_minutes=0)))
    assert steady_day[0].entity == "Z" and max(steady_day[0].evidence.values()) >= 0.5


DAY_MINUTES, ALERT_MINUTE, SPIKE_EVERY = 180, 150, 8  # minutes
MINUTES = np.arange(DAY_MINUTES)
TIMES = MINUTES * 60.0


def _metric_day(b_spikes_before_alert: bool) -> Incident:
    """Three hours of one-minute metrics: F calls B and C. B's p99 spikes to 5x for one minute every SPIKE_EVERY
    minutes (a periodic job), all day or only from the alert on; C's CPU rises 2.5x from the alert on (its fault), in
    millicores: how close that brings C to its limit is another signal (saturation), not what this one is about."""
    rng = np.random.default_rng(11)
    metrics = {}
    for entity in "FBC":
        cpu = 100.0 * (1 + rng.normal(0, 0.05, DAY_MINUTES))
        p99 = 0.1 * (1 + rng.normal(0, 0.05, DAY_MINUTES))
        if entity == "B":
            spiking = (MINUTES % SPIKE_EVERY == 1) & (b_spikes_before_alert | (MINUTES >= ALERT_MINUTE))
            p99[spiking] = 0.5
        if entity == "C":
            cpu[MINUTES >= ALERT_MINUTE] *= 2.5
        metrics[entity] = MetricSeries(entity, TIMES, {"CpuUsage(m)": cpu, "PodServerLatencyP99(s)": p99})
    return _alert_in_a_day_of_metrics(metrics)


def _alert_in_a_day_of_metrics(metrics: dict[str, MetricSeries], edges: dict | None = None) -> Incident:
    """F calls B and C; the alert at ALERT_MINUTE, a three-minute window, the half hour before it as the baseline."""
    alert = ALERT_MINUTE * 60.0
    return Incident(
        case_id="toy", system="toy", entities=["F", "B", "C"], topology=nx.DiGraph([("F", "B"), ("F", "C")]),
        alert=Alert("F", "latency", alert, "toy alert"), window=Window(alert, alert + 180.0),
        baseline=Window(alert - 1860.0, alert - 60.0), metrics=metrics, edge_metrics=edges or {},
    )


def test_a_service_whose_metric_spikes_all_day_does_not_top_a_fault_elsewhere():
    assert rank_root_causes(_metric_day(b_spikes_before_alert=True))[0].entity == "C"
    assert rank_root_causes(_metric_day(b_spikes_before_alert=False))[0].entity == "B"  # B never spiked before: B's


def _edge_day(b_strays_before_alert: bool) -> Incident:
    """Three hours of one-minute metrics: F calls B and C. The latency F sees on its calls into B jumps to 8x for two
    minutes every SPIKE_EVERY minutes (a callee that is slow now and then), all day or only from the alert on; C's
    own server latency rises 1.8x from the alert on (its fault)."""
    rng = np.random.default_rng(5)
    metrics = {}
    for entity in "FBC":
        p99 = 0.1 * (1 + rng.normal(0, 0.05, DAY_MINUTES))
        if entity == "C":
            p99[MINUTES >= ALERT_MINUTE] *= 1.8
        metrics[entity] = MetricSeries(entity, TIMES, {"CpuUsageRate(%)": 10.0 * (1 + rng.normal(0, 0.05, DAY_MINUTES)),
                                                       "PodServerLatencyP99(s)": p99})
    edges = {}
    for callee in "BC":
        p50 = 0.005 * (1 + rng.normal(0, 0.05, DAY_MINUTES))
        if callee == "B":
            straying = (MINUTES % SPIKE_EVERY < 2) & (b_strays_before_alert | (MINUTES >= ALERT_MINUTE))
            p50[straying] = 0.04
        edges[("F", callee)] = MetricSeries(f"F_{callee}", TIMES, {"latency_p50(s)": p50})
    return _alert_in_a_day_of_metrics(metrics, edges)


def test_a_callee_whose_call_latency_strays_all_day_does_not_top_a_fault_elsewhere():
    assert rank_root_causes(_edge_day(b_strays_before_alert=True))[0].entity == "C"
    assert rank_root_causes(_edge_day(b_strays_before_alert=False))[0].entity == "B"  # B never strayed before: B's


def test_the_floors_read_from_each_minutes_summaries_equal_a_fresh_replay_of_every_fault_free_minute():
    """The floors reuse each reference minute's summaries (its profile, its kinds of span) when it stands in as the
    window; scoring plain copies of the case, each minute's spans as the window, must give the same floors."""
    incident = _incident(_minute(10, y_silent=0.4, z_silent=0.5), _day(noisy_minutes=2))
    copies = [replace(incident, spans=list(minute.spans), logs=list(minute.logs), window_trace_minutes=1.0,
                      reference=[other for other in incident.reference if other is not minute])
              for minute in incident.reference]
    expected = {}
    for name in NOISE_MODALITIES:
        scores = {entity: [MODALITIES[name][0](copy).get(entity, NO_SIGNAL).score for copy in copies]
                  for entity in incident.entities}
        expected[name] = {entity: float(np.quantile(values, NOISE_QUANTILE)) for entity, values in scores.items()
                          if max(values) > 0}
    floors = noise_floors(incident)
    assert {name: floors[name] for name in NOISE_MODALITIES} == expected
    assert expected["pattern"]["Z"] > 0  # Z's strays are there to be read
