"""Per-entity anomaly signals, one per modality, each measured against the fault-free baseline.

Every function returns {entity: Signal}; a score of 0 means "looks like the baseline". Scores are
open-ended (roughly: robust z-scores or log-ratios) and are squashed to [0, 1] by the ranking.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import wraps
from typing import TypeVar
from weakref import WeakKeyDictionary

import numpy as np

from engine.telemetry.deviations import (
    NO_DEVIATION,
    Deviation,
    Periods,
    robust_z,
    robust_z_rows,
    row_lasts,
    row_means,
    row_medians,
)
from engine.telemetry.model import Incident, MetricSeries, Window
from engine.telemetry.profiles import (
    called_service,
    minute_profile,
    reference_edge_calls,
    window_edge_calls,
    window_profile,
)
from engine.telemetry.spans import NO_CALL, WAIT, EdgeCalls, RequestShape

# metric name prefix -> (direction that indicates trouble: +1 up / -1 down, weight in the ranking,
# smallest spread that counts as a deviation in the metric's unit). First match wins. Node-level and
# client-side metrics are left out: they move with neighbours and workload, not with the pod's own fault.
ENTITY_METRICS = {
    "CpuUsageRate": (+1, 1.0, 1.0),
    "CpuUsage(m)": (+1, 1.0, 5.0),
    "MemoryUsageRate": (+1, 1.0, 1.0),
    "PodServerLatencyP90": (+1, 0.5, 0.01),
    "PodServerLatencyP99": (+1, 0.5, 0.01),
    "PodSuccessRate": (-1, 1.0, 1.0),
    # PetShop (the first two derived by the loader): shown to the agents, ranked through own_excess_signal
    "availability.failed_requests": (+1, 0.0, 1.0),
    "latency.request_seconds": (+1, 0.0, 1.0),
    "latency": (+1, 0.0, 0.001),
    "average_duration": (+1, 1.0, 1.0),
    "error_rate": (+1, 1.0, 0.5),
    "timeout_rate": (+1, 1.0, 0.5),
    "availability": (-1, 0.0, 0.5),  # PetShop, likewise
    "success_rate": (-1, 1.0, 0.5),
}
OWN_RESOURCES = ("CpuUsageRate", "CpuUsage(m)", "MemoryUsageRate")  # the pod's own use: no callee's fault raises it
LIMITED = ("CpuUsageRate", "MemoryUsageRate")  # a pod's own use as a share (%) of its container's limit
LIMIT_PERCENT = 100.0
CLIMBING = ("MemoryUsageRate",)  # metrics that accumulate: a leak climbs steadily and does not come back down
# per-request metric -> (alert family, sign and scale that turn it into trouble per request: seconds waited,
# requests failed). Times the requests served, what a component adds is what its callers inherit (each call
# waits or fails with it), so the excess adds up along the call graph and the part its callees do not carry
# is the component's own.
PER_REQUEST = {"latency.Average": ("latency", 1.0), "availability.Average": ("availability", -0.01)}
REQUESTS = "requests.Sum"
EXCESS_FLOOR = {"latency.Average": 0.01, "availability.Average": 0.5}  # request-seconds, failed requests per step
TAIL, TAIL_Z = 0.99, 3.0  # a normal period's excursion reached now and then, read as this many spreads
CALLER_SHARE = 0.5  # an edge's slow-down is mostly the callee's doing; the caller's network shares it
MIN_TRACED_CALLS = 10  # calls on an edge, in the window and in the reference minutes, for their median to tell
MIN_CALLS = 3
MIN_CUT = 0.2  # share of a request's usual own spans that must be missing before it counts as cut short
WAIT_FLOOR_MS = 1.0  # a wait steadier than this on a call is below what span timestamps resolve
RECENT_SECONDS = 15 * 60


@dataclass
class Signal:
    score: float
    evidence: dict[str, float] = field(default_factory=dict)
    summary: str = ""


NO_SIGNAL = Signal(0.0)


def metric_signal(incident: Incident) -> dict[str, Signal]:
    """Worst robust z-score per entity; where the alert names a metric family (latency, availability),
    only that family counts: a cause shows the symptom the alert is about. Where requests are counted, the
    entity's own excess (own_excess_signal) competes with its z-scores. Without any fault-free period (mABC's
    sample) entities are compared with each other instead."""
    return metric_signals([incident])[0]


def metric_signals(incidents: list[Incident]) -> list[dict[str, Signal]]:
    """metric_signal of each of `incidents`: one case moved in time (see metric_deviations_over)."""
    measured = [_has_metric_baseline(incident) for incident in incidents]
    deviations = iter(metric_deviations_over([incident for incident, has in zip(incidents, measured) if has]))
    return [_metric_signal(incident, next(deviations) if has else _peer_deviations(incident), has)
            for incident, has in zip(incidents, measured)]


def _metric_signal(incident: Incident, deviations: dict[str, dict[str, Deviation]], has_baseline: bool
                   ) -> dict[str, Signal]:
    family = incident.alert.metric_family
    signals = own_excess_signal(incident) if has_baseline else {}
    for entity, per_metric in deviations.items():
        scores = {
            name: weight * deviation.z
            for name, deviation in per_metric.items()
            if (weight := _metric_rule(name)[1]) > 0 and (family is None or name.startswith(family))
        }
        if scores and max(scores.values()) > signals.get(entity, NO_SIGNAL).score:
            worst = max(scores, key=scores.get)
            found = per_metric[worst]
            summary = f"{worst} {_number(found.value)} (normal {_number(found.level)})"
            signals[entity] = Signal(scores[worst], scores, summary)
    return signals


def own_resource_share(signal: Signal) -> float:
    """How much of a metric signal its entity's own resource use (CPU, memory) carries, in [0, 1]."""
    own = max((score for name, score in signal.evidence.items() if name.startswith(OWN_RESOURCES)), default=0.0)
    return min(own / signal.score, 1.0) if signal.score > 0 else 0.0


def own_excess_signal(incident: Incident) -> dict[str, Signal]:
    """Where a source counts requests (PetShop): the request-seconds waited or requests failed beyond the
    component's normal per-request level, less what its callees' excess explains, in robust standard deviations
    of the same quantity over the baseline. A caller that only inherits a slow or failing callee scores ~0, and
    an excess far smaller than the alerted entity's cannot explain the alert, so it counts by the share it could."""
    family = incident.alert.metric_family
    signals: dict[str, Signal] = {}
    for name, (metric_family, scale) in PER_REQUEST.items():
        if family is not None and metric_family != family:
            continue
        excess = _excess(incident, name, scale)
        alerted = _window_peak(incident, *excess[incident.alert.entity][:2]) if incident.alert.entity in excess else 0.0
        for entity in excess:
            found = _own_excess(incident, excess, entity, name, alerted)
            if found is not None and found.score > signals.get(entity, NO_SIGNAL).score:
                signals[entity] = found
    return signals


def _own_excess(incident: Incident, excess: dict, entity: str, name: str, alerted: float) -> Signal | None:
    times, own, level = excess[entity]
    callees = [excess[c][1] for c in _callees(incident, entity) if c in excess and len(excess[c][1]) == len(own)]
    explained = np.sum([np.clip(c, 0, None) for c in callees], axis=0) if callees else np.zeros_like(own)
    residual = own - explained
    in_window = _in_window(incident, times)
    in_baseline = (times >= incident.baseline.start) & (times < incident.baseline.end)
    if not in_window.any() or not in_baseline.any():
        return None
    spread = max(_tail_spread(residual[in_baseline]), EXCESS_FLOOR[name])
    step = int(np.argmax(np.where(in_window, residual, -np.inf)))
    z = max(float(residual[step]), 0.0) / spread
    share = min(1.0, max(float(own[step]), 0.0) / alerted) if alerted > 0 else 1.0
    summary = _excess_summary(incident, entity, name, step, own[step], explained[step], level)
    return Signal(z * share, {f"{name} own excess": z, "share of the alerted excess": share}, summary)


def _window_peak(incident: Incident, times: np.ndarray, values: np.ndarray) -> float:
    in_window = _in_window(incident, times)
    return max(float(values[in_window].max()), 0.0) if in_window.any() else 0.0


def _in_window(incident: Incident, times: np.ndarray) -> np.ndarray:
    """Which metric samples (by time stamp) fall in the incident's window, its last minute read whole."""
    return (times >= incident.window.start) & (times < incident.window.metrics_end)


def _tail_spread(normal: np.ndarray) -> float:
    """A robust spread that also knows the baseline's own excursions: an entity that often spikes while all is
    well needs a larger spike to stand out."""
    deviations = np.abs(normal - np.median(normal))
    return max(1.4826 * float(np.median(deviations)), float(np.quantile(deviations, TAIL)) / TAIL_Z)


def _excess(incident: Incident, name: str, scale: float) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """Entity -> (times, its excess over its normal per-request level at each time, that level)."""
    found = {}
    for entity, series in incident.metrics.items():
        if name not in series.values or REQUESTS not in series.values or entity in incident.observed_only:
            continue
        level = _per_request_level(incident, series, name, scale)
        if np.isfinite(level):
            found[entity] = (series.times, np.nan_to_num(series.values[REQUESTS] * scale * (series.values[name] - level)),
                             level)
    return found


def _per_request_level(incident: Incident, series, name: str, scale: float) -> float:
    """The baseline median, or the best value of the minutes just before the alert where even that is worse: a
    fault makes things worse from its onset on, so the best recent value predates it, while a problem that
    was there before the alert shows in all of them."""
    normal = series.between(incident.baseline.start, incident.baseline.end)[name]
    if not np.isfinite(normal).any():
        return float("nan")
    level = float(np.nanmedian(normal))
    recent = series.between(incident.window.start - RECENT_SECONDS, incident.window.start)[name]
    recent = recent[np.isfinite(recent)]
    if len(recent):
        best = float(recent.min() if scale > 0 else recent.max())
        level = max(level, best) if scale > 0 else min(level, best)
    return level


def _callees(incident: Incident, entity: str) -> list[str]:
    return sorted(incident.topology.successors(entity)) if entity in incident.topology else []


def _excess_summary(incident: Incident, entity: str, name: str, step: int, own: float, explained: float,
                    normal: float) -> str:
    series = incident.metrics[entity]
    unit = "request-seconds" if name.startswith("latency") else "failed requests"
    return (f"{name} {_number(series.values[name][step])} on {_number(series.values[REQUESTS][step])} requests "
            f"(normal {_number(normal)}): {_number(own)} {unit} beyond normal, {_number(explained)} of them in its callees")


def metric_deviations(incident: Incident) -> dict[str, dict[str, Deviation]]:
    return metric_deviations_over([incident])[0]


def metric_deviations_over(incidents: list[Incident]) -> list[dict[str, dict[str, Deviation]]]:
    """metric_deviations of each of `incidents`, which must share their metrics (one case with its window and
    baseline moved back in time: the noise floors' earlier stretches); each series is read for all of them at once."""
    found: list[dict[str, dict[str, Deviation]]] = [{} for _ in incidents]
    periods = _periods(incidents)
    for entity, series in _shared(incidents, "metrics").items():
        for per_incident, deviations in zip(found, _deviations_over(series, periods)):
            per_incident[entity] = deviations
    return found


def edge_signal(incident: Incident) -> dict[str, Signal]:
    """The edge metrics' reading (edge_metric_signal), each rise into a service counted as far as the calls traced
    into it in the window rose too (_traced_rise, _traced_share): the per-edge latency series of Online Boutique now
    and then jump three- or fourfold into a service while the calls traced into it in the same minutes take their
    usual time (currencyservice, in faults elsewhere), where every network delay and CPU fault at a service slows
    every call into it, traced or not."""
    traced = _traced_rise(window_edge_calls(incident), reference_edge_calls(incident.reference))
    deviations = {(caller, callee): {name: replace(found, z=found.z * _traced_share(found, traced.get(callee)))
                                     for name, found in per_metric.items()}
                  for (caller, callee), per_metric in _edge_deviations([incident])[0].items()}
    notes = {edge: f"; calls traced into it {traced[edge[1]]:.2g}x their usual time"
             for edge in incident.edge_metrics if edge[1] in traced}
    return _edge_signal(deviations, notes)


def _traced_rise(now: dict[tuple[str, str], EdgeCalls], usual: dict[tuple[str, str], EdgeCalls]) -> dict[str, float]:
    """Service -> how many times their usual time the calls traced into it now take (the caller's span around each
    call, network included; medians), the largest over its callers with at least MIN_TRACED_CALLS traced calls in the
    window and in the reference; services with none are left out."""
    rises: dict[str, float] = {}
    for (caller, callee), calls in now.items():
        before = usual.get((caller, callee))
        if before is None or min(len(calls.waits_ms), len(before.waits_ms)) < MIN_TRACED_CALLS:
            continue
        rise = float(np.median(calls.waits_ms)) / max(float(np.median(before.waits_ms)), 1e-9)
        rises[callee] = max(rise, rises.get(callee, 0.0))
    return rises


def _traced_share(deviation: Deviation, traced: float | None) -> float:
    """The share of an edge metric's rise its traced calls show: the log of their rise over the log of the metric's,
    in [0, 1]; 1 where nothing was traced to tell."""
    if traced is None or not deviation.value > deviation.level > 0:
        return 1.0
    return float(np.clip(np.log(max(traced, 1e-9)) / np.log(deviation.value / deviation.level), 0.0, 1.0))


def edge_metric_signal(incident: Incident) -> dict[str, Signal]:
    """Per-edge latency series (where the source has them): a slow edge points at its callee."""
    return edge_metric_signals([incident])[0]


def edge_metric_signals(incidents: list[Incident]) -> list[dict[str, Signal]]:
    """edge_metric_signal of each of `incidents`, which must share their edge metrics (see metric_deviations_over)."""
    return [_edge_signal(deviations) for deviations in _edge_deviations(incidents)]


def _edge_deviations(incidents: list[Incident]) -> list[dict[tuple[str, str], dict[str, Deviation]]]:
    """Per incident: each edge's upward deviations, every edge series read for all of the incidents at once."""
    periods = _periods(incidents)
    per_edge = {edge: _deviations_over(series, periods, direction=+1)
                for edge, series in _shared(incidents, "edge_metrics").items()}
    return [{edge: found[k] for edge, found in per_edge.items()} for k in range(len(incidents))]


def _edge_signal(deviations: dict[tuple[str, str], dict[str, Deviation]],
                 notes: dict[tuple[str, str], str] | None = None) -> dict[str, Signal]:
    notes = notes or {}
    evidence: dict[str, dict[str, float]] = defaultdict(dict)
    summaries: dict[str, dict[str, str]] = defaultdict(dict)
    for (caller, callee), per_metric in deviations.items():
        for name, deviation in per_metric.items():
            key = f"{caller}->{callee}"
            evidence[callee][key] = deviation.z
            evidence[caller][key] = CALLER_SHARE * deviation.z
            text = f"call {key} {name} {_number(deviation.value)} (normal {_number(deviation.level)})" \
                   f"{notes.get((caller, callee), '')}"
            summaries[callee][key] = summaries[caller][key] = text
    signals = {}
    for entity, scores in evidence.items():
        worst = max(scores, key=scores.get)
        signals[entity] = Signal(scores[worst], scores, summaries[entity][worst])
    return signals


def saturation_signal(incident: Incident) -> dict[str, Signal]:
    """How much of the room its container's limit left it a pod's own CPU or memory use took over the window: the
    window's mean (a climbing metric's last value: a leak holds what it took) against the usual level (the pre-alert
    median), as a share of 100 % less that level. A stressed or leaking pod fills its limit whatever its usual
    level, where its robust z stays small if its use moves a lot anyway; a callee's fault never raises it."""
    return saturation_signals([incident])[0]


def saturation_signals(incidents: list[Incident]) -> list[dict[str, Signal]]:
    """saturation_signal of each of `incidents`, which must share their metrics (see metric_deviations_over)."""
    found: list[dict[str, Signal]] = [{} for _ in incidents]
    windows = [incident.window for incident in incidents]
    for entity, series in _shared(incidents, "metrics").items():
        now, before = _window_and_recent(series, windows)
        for name, values in series.values.items():
            if not name.startswith(LIMITED):
                continue
            rows = now.rows(values)
            reached = row_lasts(rows) if name.startswith(CLIMBING) else row_means(rows)
            level = row_medians(before.rows(values))
            share = np.clip((reached - level) / np.maximum(LIMIT_PERCENT - level, 1e-9), 0.0, 1.0)
            for k in np.flatnonzero(np.isfinite(share) & (share > 0) & (level < LIMIT_PERCENT)):
                if share[k] > found[k].get(entity, NO_SIGNAL).score:
                    summary = (f"{name} {_number(reached[k])} in the window (usually {_number(level[k])}): "
                               f"{share[k]:.0%} of the room left under its limit")
                    found[k][entity] = Signal(float(share[k]), {name: float(share[k])}, summary)
    return found


def _shared(incidents: list[Incident], attribute: str) -> dict:
    """The series (`metrics`, `edge_metrics`) every one of `incidents` holds: one case's, read over several periods."""
    series = getattr(incidents[0], attribute) if incidents else {}
    if any(getattr(incident, attribute) is not series for incident in incidents):
        raise ValueError(f"one case's {attribute} are read over several periods; these incidents differ")
    return series


def _periods(incidents: list[Incident]) -> list[tuple[Window, Window]]:
    return [(incident.window, incident.baseline) for incident in incidents]


def _window_and_recent(series: MetricSeries, windows: list[Window]) -> tuple[Periods, Periods]:
    """Where each window's samples lie on the series (to the end of its last minute: a sample covers the minute
    after its stamp), and those of the RECENT_SECONDS before it (the level a window is compared with)."""
    return (Periods.on(series.times, [(window.start, window.metrics_end) for window in windows]),
            Periods.on(series.times, [(window.start - RECENT_SECONDS, window.start) for window in windows]))


def _deviations_over(series: MetricSeries, periods: list[tuple[Window, Window]], direction: int | None = None
                     ) -> list[dict[str, Deviation]]:
    """Per (window, baseline) period: each metric's deviation in the window (robust_z, from the baseline's spread
    and the level of the RECENT_SECONDS before the window; a climbing metric's climb_z where that is larger)."""
    windows, recents = _window_and_recent(series, [window for window, _ in periods])
    baselines = Periods.on(series.times, [(baseline.start, baseline.end) for _, baseline in periods])
    found: list[dict[str, Deviation]] = [{} for _ in periods]
    for name, values in series.values.items():
        rule_sign, _, floor = _metric_rule(name)
        sign = direction if direction is not None else rule_sign
        if not sign:
            continue
        window, baseline, recent = windows.rows(values), baselines.rows(values), recents.rows(values)
        climbing = name.startswith(CLIMBING)
        for k, deviation in enumerate(robust_z_rows(window, baseline, sign, floor, recent)):
            found[k][name] = max(deviation, climb_z(window[k], baseline[k], recent[k], floor),
                                 key=lambda d: d.z) if climbing else deviation
    return found


def climb_z(window: np.ndarray, baseline: np.ndarray, recent: np.ndarray, floor: float) -> Deviation:
    """How far a metric climbed over the window (its last value against the last one before the window), in
    robust spreads of the baseline's own change over as many samples: a steady climb stands out against the
    metric's usual drift even when it never doubles, while a spike that comes back does not count."""
    window, baseline, recent = (values[np.isfinite(values)] for values in (window, baseline, recent))
    steps = len(window)
    if steps == 0 or len(recent) == 0 or len(baseline) <= steps + MIN_CALLS:
        return NO_DEVIATION
    drift = baseline[steps:] - baseline[:-steps]
    level = float(recent[-1])
    return Deviation(max(float(window[-1]) - level, 0.0) / max(_tail_spread(drift), floor), float(window[-1]), level)


def _has_metric_baseline(incident: Incident) -> bool:
    return any(
        len(series.between(incident.baseline.start, incident.baseline.end)[name])
        for series in incident.metrics.values()
        for name in series.values
    )


def _peer_deviations(incident: Incident) -> dict[str, dict[str, Deviation]]:
    """Each entity's window mean against the other entities' (used only when there is no baseline)."""
    means: dict[str, dict[str, float]] = defaultdict(dict)
    for entity, series in incident.metrics.items():
        for name, values in series.between(incident.window.start, incident.window.metrics_end).items():
            if np.isfinite(values).any():
                means[name][entity] = float(np.nanmean(values))
    found: dict[str, dict[str, Deviation]] = defaultdict(dict)
    for name, per_entity in means.items():
        direction, _, floor = _metric_rule(name)
        if not direction:
            continue
        values = np.array(list(per_entity.values()))
        for entity, value in per_entity.items():
            others = np.array([v for e, v in per_entity.items() if e != entity]) if len(values) > 1 else values
            found[entity][name] = robust_z(np.array([value]), others, direction, floor)
    return found


def _metric_rule(metric: str) -> tuple[int, float, float]:
    return next((rule for fragment, rule in ENTITY_METRICS.items() if metric.startswith(fragment)), (0, 0.0, 1e-6))


def _number(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def latency_signal(incident: Incident) -> dict[str, Signal]:
    """Slow-down of each entity's own span time (children excluded), per operation: the worst operation's
    log-ratio of median own time, median over reference minutes. A callee is not charged the waits of a caller
    that is slow on its own side (wait_signal): that caller waits longer on every service it calls alike."""
    return {entity: Signal(slow.score, {slow.operation: slow.score},
                           f"{slow.operation} takes {_number(slow.now_ms)} ms of its own (normal "
                           f"{_number(slow.before_ms)} ms)")
            for entity, slow in _own_slowdowns(incident).items()}


@dataclass(frozen=True)
class OwnSlowdown:
    """How much slower an entity's own work got (latency_signal's score) and its worst operation's medians."""

    score: float
    operation: str
    now_ms: float
    before_ms: float


T = TypeVar("T")


def _per_incident(measure: Callable[[Incident], T]) -> Callable[[Incident], T]:
    """`measure` cached per incident for as long as the incident lives (each replay of the noise floors is an
    incident of its own, so an LRU bound would evict the case's entry between its reads); callers share what it
    returns and only read it."""
    cache: WeakKeyDictionary[Incident, T] = WeakKeyDictionary()

    @wraps(measure)
    def cached(incident: Incident) -> T:
        if incident not in cache:
            cache[incident] = measure(incident)
        return cache[incident]

    return cached


@_per_incident
def _own_slowdowns(incident: Incident) -> dict[str, OwnSlowdown]:
    """Per entity: the latency modality and wait_signal's "works slower itself" test both read it."""
    minutes = [minute for minute in incident.reference if minute.spans]
    if not incident.spans or not minutes:
        return {}
    window = window_profile(incident)
    own_side = set(_own_side_waits(_waits_moved(incident)))
    ratios: dict[str, list[float]] = defaultdict(list)
    worst: dict[str, tuple[float, str, float, float]] = {}  # entity -> (ratio, operation, now ms, before ms)
    for minute in minutes:
        reference = minute_profile(minute)
        per_entity: dict[str, float] = {}
        for (entity, operation), durations in window.own_time.items():
            before = reference.own_time.get((entity, operation), [])
            if len(durations) < MIN_CALLS or len(before) < MIN_CALLS or _waiting_caller(operation) in own_side:
                continue
            now_ms, before_ms = window.own_median[(entity, operation)], reference.own_median[(entity, operation)]
            ratio = float(np.log((now_ms + 1.0) / (before_ms + 1.0)))
            if ratio > per_entity.get(entity, 0.0):
                per_entity[entity] = ratio
                worst[entity] = max(worst.get(entity, (0.0, "", 0.0, 0.0)), (ratio, operation, now_ms, before_ms))
        for entity, ratio in per_entity.items():
            ratios[entity].append(ratio)
    slowdowns = {}
    for entity, values in ratios.items():
        score = float(np.median(values + [0.0] * (len(minutes) - len(values))))
        if score > 0:
            slowdowns[entity] = OwnSlowdown(score, *worst[entity][1:])
    return slowdowns


def wait_signal(incident: Incident) -> dict[str, Signal]:
    """Network trouble into a service: the time its callers' client spans wait beyond its own server span (charged
    to it by own_times), per caller and operation. Delay moves every call: how far the window's median wait sits
    above the reference calls' median, in spreads of that same wait over the reference calls (a spread that knows
    the edge's own excursions, so an edge that is jittery while all is well needs a larger rise, and a service noisy
    in other ways gains nothing here), counted beyond the TAIL_Z spreads that a fault-free minute reaches now and
    then. Packet loss moves a share of the calls by whole retransmit timeouts: how much more surprising it is that
    so many calls wait longer than any reference call did than in a fault-free minute (_tail_excess); it counts only
    where at least two callers see it (a network fault at the service reaches every caller, while one caller's
    long waits are as often its own). Only a caller that now waits longer on this one service, and whose own work
    did not double, counts: one that waits longer on several, or works slower itself, is slow on its own side (its
    CPU, its network) and is late to read the answers."""
    moved = _waits_moved(incident)
    rises, excesses, rising = moved.rises, moved.excesses, moved.rising
    slower = {entity for entity, slow in _own_slowdowns(incident).items() if slow.score >= np.log(2.0)}
    evidence: dict[str, dict[str, float]] = defaultdict(dict)
    summaries: dict[str, tuple[float, str]] = {}
    for (callee, caller, operation), rise in rises.items():
        waiting_only = rising.get(caller, set()) <= {callee} and caller not in slower
        score = max(excesses[(callee, caller, operation)], 0.0) if waiting_only else 0.0
        evidence[callee][f"{caller} {operation}"] = score
        if score > summaries.get(callee, (0.0, ""))[0]:
            summaries[callee] = (score, rise.describe(caller, operation, score > rise.median))
    for caller, score in _own_side_waits(moved).items():
        evidence[caller]["own side"] = score
        summaries[caller] = (score, f"its calls into {', '.join(sorted(rising[caller]))} all wait longer for the "
                                    f"answers than their work takes: its own side (its network, its CPU)")
    return {entity: Signal(summaries[entity][0], scores, summaries[entity][1])
            for entity, scores in evidence.items() if entity in summaries}


@dataclass(frozen=True)
class WaitsMoved:
    """The window's waits against the reference calls: each (callee, caller, operation)'s WaitRise, the rise that
    counts (its median's, or its tail's where at least two callers see one), and the callees each caller now
    waits longer on."""

    rises: dict[tuple[str, str, str], WaitRise]
    excesses: dict[tuple[str, str, str], float]
    rising: dict[str, set[str]]


@_per_incident
def _waits_moved(incident: Incident) -> WaitsMoved:
    """Both latency_signal and wait_signal read it."""
    rises = _wait_rises(incident)
    tail_callers: dict[str, set[str]] = defaultdict(set)
    for (callee, caller, _), rise in rises.items():
        if rise.tail > 0:
            tail_callers[callee].add(caller)
    excesses = {key: max(rise.median, rise.tail if len(tail_callers[key[0]]) >= 2 else 0.0)
                for key, rise in rises.items()}
    rising: dict[str, set[str]] = defaultdict(set)
    for (callee, caller, _), excess in excesses.items():
        if excess > 0:
            rising[caller].add(callee)
    return WaitsMoved(rises, excesses, dict(rising))


def _own_side_waits(moved: WaitsMoved) -> dict[str, float]:
    """Caller -> how far its calls wait longer on the services it now waits longer on (the median over them of each
    one's largest rise), for a caller that waits longer on several: a delay on its own interface (or a CPU too busy
    to read the answers) makes every call it sends wait alike, as the front door's own network delay does, where a
    fault at one callee slows only the calls into it."""
    largest: dict[tuple[str, str], float] = {}  # (caller, callee) -> its largest rise over the caller's operations
    for (callee, caller, _), excess in moved.excesses.items():
        largest[(caller, callee)] = max(excess, largest.get((caller, callee), excess))
    return {caller: float(np.median([largest[(caller, callee)] for callee in callees]))
            for caller, callees in moved.rising.items() if len(callees) >= 2}


def _waiting_caller(operation: str) -> str | None:
    """The caller whose wait an own-time operation is ("wait:<caller> <operation>"), None for a span's own work."""
    return operation.removeprefix(WAIT).partition(" ")[0] if operation.startswith(WAIT) else None


@dataclass(frozen=True)
class WaitRise:
    """How the waits of one caller's calls into a service moved, window against the reference calls."""

    median: float  # the median's rise in reference spreads, beyond TAIL_Z
    tail: float  # the tail's surprise beyond the fault-free minutes' (_tail_excess)
    now: float  # median wait, ms
    level: float  # the reference calls' median wait, ms
    beyond: int  # calls now waiting longer than any reference call
    calls: int

    def describe(self, caller: str, operation: str, by_tail: bool) -> str:
        if by_tail:
            return (f"{self.beyond} of {caller}'s {self.calls} calls '{operation}' wait longer for it beyond its own "
                    f"work than any fault-free call did (median {_number(self.now)} ms, normal {_number(self.level)} ms)")
        return (f"{caller}'s calls '{operation}' wait {_number(self.now)} ms for it beyond its own work "
                f"(normal {_number(self.level)} ms)")


def _wait_rises(incident: Incident) -> dict[tuple[str, str, str], WaitRise]:
    """(callee, caller, operation) -> how its waits moved (WaitRise)."""
    minutes = [minute for minute in incident.reference if minute.spans]
    if not incident.spans or not minutes:
        return {}
    reference: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)
    for minute in minutes:
        for key, waits in minute_profile(minute).own_time.items():
            if key[1].startswith(WAIT):
                reference[key].append(np.asarray(waits))
    rises = {}
    for (callee, name), waits in window_profile(incident).own_time.items():
        per_minute = reference.get((callee, name), [])
        normal = np.concatenate(per_minute) if per_minute else np.array([])
        if not name.startswith(WAIT) or len(waits) < MIN_CALLS or len(normal) < MIN_CALLS:
            continue
        caller, _, operation = name.removeprefix(WAIT).partition(" ")
        waits = np.asarray(waits)
        level, now = float(np.median(normal)), float(np.median(waits))
        z = max(now - level, 0.0) / max(_tail_spread(normal), WAIT_FLOOR_MS)
        beyond = _beyond(waits, normal)
        rises[(callee, caller, operation)] = WaitRise(z - TAIL_Z, _tail_excess(beyond, len(waits), normal, per_minute),
                                                      now, level, beyond, len(waits))
    return rises


def _tail_excess(beyond: int, calls: int, normal: np.ndarray, per_minute: list[np.ndarray]) -> float:
    """How much more surprising the window's tail (`beyond` of its `calls` longer than any of the `normal` ones,
    _tail_surprise) is than any fault-free minute's against the other fault-free minutes, and than a 1-in-100 (TAIL)
    chance: the waits of a call vary from minute to minute, so a minute's calls beyond the others' longest are not as
    rare as if they were all alike."""
    usual = []
    for i, minute in enumerate(per_minute):
        if len(normal) - len(minute) >= MIN_CALLS:
            others = np.concatenate(per_minute[:i] + per_minute[i + 1:])
            usual.append(_tail_surprise(_beyond(minute, others), len(minute), len(others)))
    return _tail_surprise(beyond, calls, len(normal)) - max([-np.log(1.0 - TAIL), *usual])


def _beyond(waits: np.ndarray, normal: np.ndarray) -> int:
    """How many of `waits` last longer than the longest of `normal`."""
    return int(np.sum(waits > normal.max()))


def _tail_surprise(beyond: int, calls: int, references: int) -> float:
    """-ln of the chance that at least `beyond` of `calls` waits last longer than the longest of `references` ones,
    were they all alike: each then is equally likely to hold any rank among references + 1, so it beats them all
    with probability 1 / (references + 1) (a binomial tail)."""
    if beyond == 0:
        return 0.0
    chance = 1.0 / (references + 1)
    terms = np.array([math.lgamma(calls + 1) - math.lgamma(j + 1) - math.lgamma(calls - j + 1)
                      + j * math.log(chance) + (calls - j) * math.log1p(-chance) for j in range(beyond, calls + 1)])
    return -float(terms.max() + np.log(np.exp(terms - terms.max()).sum()))


def log_error_signal(incident: Incident) -> dict[str, Signal]:
    """Error logs per minute whose template a fault-free minute did not show, per entity (median over
    reference minutes, so one noisy or contaminated reference minute does not decide)."""
    minutes = [minute for minute in incident.reference if minute.logs]
    if not incident.logs or not minutes:
        return {}
    errors = [r for r in incident.logs if r.level == "ERROR"]
    per_minute = incident.window_trace_minutes or incident.window.minutes
    rates: dict[str, list[float]] = defaultdict(list)
    for minute in minutes:
        known = {(r.entity, r.template) for r in minute.logs}
        fresh = Counter(r.entity for r in errors if (r.entity, r.template) not in known)
        for entity in {r.entity for r in errors}:
            rates[entity].append(fresh[entity] / per_minute)
    signals = {}
    for entity, values in rates.items():
        rate = float(np.median(values))
        if rate > 0:
            example = next(r.template for r in errors if r.entity == entity)
            signals[entity] = Signal(float(np.log1p(rate)), {"new_error_logs_per_min": rate}, example)
    return signals


def pattern_signal(incident: Incident) -> dict[str, Signal]:
    """Broken habits: events (log statements, downstream calls) that reliably followed an operation in a
    fault-free minute and now often do not, or error events that now follow it; and requests cut short (see
    _cut_short). The workload mix does not move this. Median over reference minutes."""
    minutes = [minute for minute in incident.reference if minute.spans]
    if not incident.spans or not minutes:
        return {}
    after = window_profile(incident)
    scores: dict[str, list[float]] = defaultdict(list)
    strongest: dict[str, dict[str, Change]] = defaultdict(dict)
    for minute in minutes:
        before = minute_profile(minute)
        changes = _pattern_changes(before.anchors, after.anchors, _ending_rises(before.requests, after.requests))
        for entity, found in _cut_short(before.requests, after.requests).items():
            changes.setdefault(entity, {}).update(found)
        for entity in {anchor[0] for anchor in after.anchors} | set(incident.entities):  # a callee may show only lost calls
            found = changes.get(entity, {})
            scores[entity].append(float(sum(change.strength for change in found.values())))
            for key, change in found.items():
                if change.strength > strongest[entity].get(key, NO_CHANGE).strength:
                    strongest[entity][key] = change
    signals = {}
    for entity, values in scores.items():
        score = float(np.median(values))
        if score > 0:
            changes = strongest[entity]
            top = max(changes.values(), key=lambda change: (change.strength, change.event, change.anchor))
            signals[entity] = Signal(score, {key: change.strength for key, change in changes.items()}, top.describe())
    return signals


@dataclass(frozen=True)
class Change:
    event: str
    anchor: str
    usual: float  # share of the anchor's spans with the event, fault-free
    now: float
    strength: float

    def describe(self) -> str:
        what = self.event.split(":", 1)[-1]
        return f"'{what}' now in {self.now:.0%} of '{self.anchor}' spans (normal {self.usual:.0%})"


NO_CHANGE = Change("", "", 0.0, 0.0, 0.0)


def _pattern_changes(before: dict, after: dict, endings: dict[str, tuple[str, float]]) -> dict[str, dict[str, Change]]:
    """Broken habits per entity. A habit the anchor's service lost while a share of its requests now end after the
    answer of one service that broke a habit of its own (`endings`, see _ending_rises) is, up to that share, that
    service's: the requests it failed never got to the lines and calls that came later. (A service that stops its
    own handling part-way also ends its requests after whichever call came before: that callee changed nothing.)"""
    found = []  # (anchor's service, credited service, key, change)
    for anchor, (count, rates) in after.items():
        reference = before.get(anchor)
        if count < MIN_CALLS or reference is None or reference[0] < MIN_CALLS:
            continue
        for event, usual, now in _changed_events(reference[1], rates):
            key = f"{'lost' if now < usual else 'now'} {event}"
            change = Change(event, anchor[1].split(":", 1)[-1], usual, now, abs(now - usual) * np.sqrt(count))
            credited = (now < usual and called_service(event)) or anchor[0]  # a call made, never served: the callee's
            found.append((anchor[0], credited, key, change))
    broke_own = {service for service, credited, _, _ in found if credited == service}
    per_entity: dict[str, dict[str, Change]] = defaultdict(dict)
    for service, entity, key, change in found:
        ending, rise = endings.get(service, (None, 0.0)) if key.startswith("lost") else (None, 0.0)
        stopped = min(rise / (change.usual - change.now), 1.0) if ending in broke_own - {entity} else 0.0
        for credited, share in ((ending, stopped), (entity, 1.0 - stopped)):
            if share > 1e-9 and change.strength * share > per_entity[credited].get(key, NO_CHANGE).strength:
                per_entity[credited][key] = replace(change, strength=change.strength * share)  # at its strongest anchor
    return per_entity


def _ending_rises(before: dict, after: dict) -> dict[str, tuple[str, float]]:
    """entity -> (the service whose answer now ends far more of its requests, by how much of them): the largest
    rise, through any operation, of the share of requests whose last call went to one other service, if at least
    MIN_CUT."""
    rises: dict[str, tuple[str, float]] = {}
    for (entity, operation), now in after.items():
        usual = before.get((entity, operation))
        if now.count < MIN_CALLS or usual is None or usual.count < MIN_CALLS:
            continue
        for service, share in now.endings.items():
            rise = share - usual.endings.get(service, 0.0)
            if service not in (NO_CALL, entity) and rise >= MIN_CUT and rise > rises.get(entity, ("", 0.0))[1]:
                rises[entity] = (service, rise)
    return rises


def _cut_short(before: dict, after: dict) -> dict[str, dict[str, Change]]:
    """Requests cut short: a service's requests through one operation run far fewer of its own spans (its calls
    out, its inner steps) than in the fault-free minute. A request stops where something failed: at a call whose
    answer it could not use, so that service's answer now ends far more of them; or inside the service itself, so
    they now end before any call, or after whichever call came before the point where it failed (a rise spread over
    several callees). The loss (share lost x sqrt(requests), as a broken habit) goes to the service whose answer now
    ends them in proportion to how much of the rise in endings it takes and to how far its other callers' requests
    confirm it (see _confirmed_ending), the rest to the service itself."""
    per_entity: dict[str, dict[str, Change]] = defaultdict(dict)
    for (entity, operation), now in after.items():
        usual = before.get((entity, operation))
        if now.count < MIN_CALLS or usual is None or usual.count < MIN_CALLS or usual.local_spans < 1:
            continue
        lost = 1.0 - now.local_spans / usual.local_spans
        rises = {service: share - usual.endings.get(service, 0.0) for service, share in now.endings.items()}
        rises = {service: rise for service, rise in rises.items() if rise > 0}
        if lost < MIN_CUT or not rises:
            continue
        strength = lost * np.sqrt(now.count)
        ending = max(rises, key=lambda service: (rises[service], service))
        confirmed = _confirmed_ending(before, after, ending, (entity, operation))
        concentration = rises[ending] / sum(rises.values()) * confirmed
        key = f"cut {entity} {operation}"
        change = Change(f"end:last call {ending}" if ending != NO_CALL else "end:no call", operation,
                        usual.endings.get(ending, 0.0), now.endings[ending], strength)
        if ending == NO_CALL or concentration == 1.0:
            per_entity[ending or entity][key] = change
            continue
        per_entity[ending][key] = replace(change, strength=strength * concentration)
        per_entity[entity][key] = replace(change, event="end:part-way", strength=strength * (1 - concentration))
    return per_entity


def _confirmed_ending(before: dict, after: dict, service: str, requests: tuple[str, str]) -> float:
    """How far the requests of `service`'s other callers confirm that its answers now end the `requests` (entity,
    operation) that now end after it, in [0, 1]: a service whose answers fail stops every caller's handling after it,
    while a caller that stops its own handling right after a call leaves the callee's other callers as they were. The
    largest rise, over the other callers' operations whose requests called it and usually went on after its answer,
    of the share of those requests that end after its answer, against the same rise in `requests`; 1 where no other
    caller tells (the caller is its only one)."""
    own = _ending_after_rise(before.get(requests), after[requests], service)
    others = [rise for key, now in after.items() if key[0] not in (requests[0], service)
              and (rise := _ending_after_rise(before.get(key), now, service)) is not None]
    if not others or own is None or own <= 0:
        return 1.0
    return min(max(max(others), 0.0) / own, 1.0)


def _ending_after_rise(usual: RequestShape | None, now: RequestShape, service: str) -> float | None:
    """Of the requests that called `service`, how much larger a share now ends after its answer; None where too few
    called it or where they usually ended there anyway."""
    if usual is None or min(now.count * now.calls.get(service, 0.0), usual.count * usual.calls.get(service, 0.0)) \
            < MIN_CALLS or usual.ended_after(service) > 1.0 - MIN_CUT:
        return None
    return now.ended_after(service) - usual.ended_after(service)


def _changed_events(usual: dict[str, float], now: dict[str, float]) -> list[tuple[str, float, float]]:
    lost = [(e, p, now.get(e, 0.0)) for e, p in usual.items() if p >= 0.8 and p - now.get(e, 0.0) >= 0.3]
    new_errors = [(e, 0.0, p) for e, p in now.items() if e.startswith("log:ERROR") and e not in usual and p >= 0.2]
    return lost + new_errors
