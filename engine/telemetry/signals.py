"""Per-entity anomaly signals, one per modality, each measured against the fault-free baseline.

Every function returns {entity: Signal}; a score of 0 means "looks like the baseline". Scores are
open-ended (roughly: robust z-scores or log-ratios) and are squashed to [0, 1] by the ranking.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from engine.telemetry.model import Incident, LogRecord, Span
from engine.telemetry.spans import span_costs

# metric name fragment -> (direction that indicates trouble: +1 up / -1 down, weight). Node-level and
# client-side metrics are left out: they move with neighbours and workload, not with the pod's own fault.
ENTITY_METRICS = {
    # fragment: (direction, weight, smallest spread that counts as a deviation in the metric's unit)
    "CpuUsageRate": (+1, 1.0, 1.0),
    "CpuUsage(m)": (+1, 1.0, 5.0),
    "MemoryUsageRate": (+1, 1.0, 1.0),
    "PodServerLatencyP90": (+1, 0.5, 0.01),
    "PodServerLatencyP99": (+1, 0.5, 0.01),
    "PodSuccessRate": (-1, 1.0, 1.0),
    "latency": (+1, 1.0, 0.001),  # PetShop / mABC style names
    "average_duration": (+1, 1.0, 1.0),
    "error_rate": (+1, 1.0, 0.5),
    "timeout_rate": (+1, 1.0, 0.5),
    "availability": (-1, 1.0, 0.5),
    "success_rate": (-1, 1.0, 0.5),
}
CALLER_SHARE = 0.5  # an edge's slow-down is mostly the callee's doing; the caller's network shares it
MIN_CALLS = 3
RECENT_SECONDS = 15 * 60


@dataclass
class Signal:
    score: float
    evidence: dict[str, float] = field(default_factory=dict)
    summary: str = ""


def robust_z(
    window: np.ndarray, baseline: np.ndarray, direction: int, floor: float = 1e-6, recent: np.ndarray | None = None
) -> float:
    """How far the worst window value sits from the normal level, in robust standard deviations of the
    baseline. The level is the recent pre-alert median when there is one (levels drift; spreads less so)."""
    window, baseline = window[np.isfinite(window)], baseline[np.isfinite(baseline)]
    if len(window) == 0 or len(baseline) == 0:
        return 0.0
    median = float(np.median(baseline))
    spread = 1.4826 * float(np.median(np.abs(baseline - median)))
    spread = max(spread, 0.1 * abs(median), floor)  # a flat baseline must not turn noise into huge z
    if recent is not None and np.isfinite(recent).any():
        median = float(np.median(recent[np.isfinite(recent)]))
    worst = float(window.max() if direction > 0 else window.min())
    z = max((worst - median) * direction, 0.0) / spread
    if direction > 0 and median > 0:  # a rise counts fully from a doubling on; small relative rises are noise
        z *= min(1.0, np.log(max(worst, median) / median) / np.log(2.0))
    return float(z)


def metric_signal(incident: Incident) -> dict[str, Signal]:
    """Worst robust z-score per entity; where the alert names a metric family (latency, availability),
    only that family counts: a cause shows the symptom the alert is about."""
    signals = {}
    family = incident.alert.metric_family
    for entity, series in incident.metrics.items():
        scores = {
            name: weight * z
            for name, z in _metric_z_scores(incident, series).items()
            if (weight := _metric_rule(name)[1]) > 0 and (family is None or name.startswith(family))
        }
        if scores:
            worst = max(scores, key=scores.get)
            signals[entity] = Signal(scores[worst], scores, f"{worst} {scores[worst]:.1f} robust SD from its baseline")
    return signals


def edge_metric_signal(incident: Incident) -> dict[str, Signal]:
    """Per-edge latency series (where the source has them): a slow edge points at its callee."""
    evidence: dict[str, dict[str, float]] = defaultdict(dict)
    for (caller, callee), series in incident.edge_metrics.items():
        for name, z in _metric_z_scores(incident, series, direction=+1).items():
            evidence[callee][f"{caller}->{callee} {name}"] = z
            evidence[caller][f"{caller}->{callee} {name}"] = CALLER_SHARE * z
    signals = {}
    for entity, scores in evidence.items():
        worst = max(scores, key=scores.get)
        signals[entity] = Signal(scores[worst], scores, f"edge {worst} {scores[worst]:.1f} robust SD above baseline")
    return signals


def _metric_z_scores(incident: Incident, series, direction: int | None = None) -> dict[str, float]:
    window = series.between(incident.window.start, incident.window.end + 60)
    baseline = series.between(incident.baseline.start, incident.baseline.end)
    recent = series.between(incident.window.start - RECENT_SECONDS, incident.window.start)
    scores = {}
    for name in series.values:
        rule_sign, _, floor = _metric_rule(name)
        sign = direction if direction is not None else rule_sign
        if sign:
            scores[name] = robust_z(window[name], baseline[name], sign, floor, recent[name])
    return scores


def _metric_rule(metric: str) -> tuple[int, float, float]:
    return next((rule for fragment, rule in ENTITY_METRICS.items() if fragment in metric), (0, 0.0, 1e-6))


def latency_signal(incident: Incident) -> dict[str, Signal]:
    """Slow-down of each entity's own span time (children excluded), per operation: the worst operation's
    log-ratio of median own time, median over reference minutes."""
    minutes = [minute for minute in incident.reference if minute.spans]
    if not incident.spans or not minutes:
        return {}
    window = _own_time_by_operation(incident.spans)
    ratios: dict[str, list[float]] = defaultdict(list)
    worst_operation: dict[str, tuple[float, str]] = {}
    for minute in minutes:
        reference = _own_time_by_operation(list(minute.spans))
        per_entity: dict[str, float] = {}
        for (entity, operation), durations in window.items():
            before = reference.get((entity, operation), [])
            if len(durations) < MIN_CALLS or len(before) < MIN_CALLS:
                continue
            ratio = float(np.log((np.median(durations) + 1.0) / (np.median(before) + 1.0)))
            if ratio > per_entity.get(entity, 0.0):
                per_entity[entity] = ratio
                worst_operation[entity] = max(worst_operation.get(entity, (0.0, "")), (ratio, operation))
        for entity, ratio in per_entity.items():
            ratios[entity].append(ratio)
    signals = {}
    for entity, values in ratios.items():
        score = float(np.median(values + [0.0] * (len(minutes) - len(values))))
        if score > 0:
            operation = worst_operation[entity][1]
            signals[entity] = Signal(score, {operation: score}, f"{operation} own time x{np.exp(score):.1f}")
    return signals


def _own_time_by_operation(spans: list[Span]) -> dict[tuple[str, str], list[float]]:
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    for cost in span_costs(spans):
        grouped[(cost.entity, cost.operation)].append(cost.own_ms)
    return grouped


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
    fault-free minute and now often do not, or error events that now follow it. The workload mix does not
    move this. Median over reference minutes."""
    minutes = [minute for minute in incident.reference if minute.spans]
    if not incident.spans or not minutes:
        return {}
    after = _event_rates(incident.spans, incident.logs)
    scores: dict[str, list[float]] = defaultdict(list)
    evidence: dict[str, dict[str, float]] = defaultdict(dict)
    for minute in minutes:
        changes = _pattern_changes(_event_rates(list(minute.spans), list(minute.logs)), after)
        for entity in {anchor[0] for anchor in after}:
            found = changes.get(entity, {})
            scores[entity].append(float(sum(found.values())))
            for key, value in found.items():
                evidence[entity][key] = max(value, evidence[entity].get(key, 0.0))
    signals = {}
    for entity, values in scores.items():
        score = float(np.median(values))
        if score > 0:
            worst = max(evidence[entity], key=evidence[entity].get)
            signals[entity] = Signal(score, evidence[entity], worst)
    return signals


def _pattern_changes(before: dict, after: dict) -> dict[str, dict[str, float]]:
    per_entity: dict[str, dict[str, float]] = defaultdict(dict)
    for anchor, (count, rates) in after.items():
        reference = before.get(anchor)
        if count < MIN_CALLS or reference is None or reference[0] < MIN_CALLS:
            continue
        for event, change in _changed_events(reference[1], rates):
            key = f"{'lost' if change < 0 else 'now'} {event}"
            strength = abs(change) * np.sqrt(count)
            if strength > per_entity[anchor[0]].get(key, 0.0):  # an event counts once, at its strongest anchor
                per_entity[anchor[0]][key] = strength
    return per_entity


def _changed_events(usual: dict[str, float], now: dict[str, float]) -> list[tuple[str, float]]:
    lost = [(e, now.get(e, 0.0) - p) for e, p in usual.items() if p >= 0.8 and p - now.get(e, 0.0) >= 0.3]
    new_errors = [(e, p) for e, p in now.items() if e.startswith("log:ERROR") and e not in usual and p >= 0.2]
    return lost + new_errors


STATEMENT = re.compile(r"[\w.$\[\]]+#\d+")


def statement_of(template: str) -> str:
    """The code location (`Class#line`) of a Java log line, else the whole template."""
    match = STATEMENT.search(template)
    return match.group(0) if match else template


def _event_rates(spans: list[Span], logs: list[LogRecord]) -> dict[tuple[str, str], tuple[int, dict[str, float]]]:
    """For each anchor (an operation in its calling context, or a log statement), how often each other
    event happens in the same span."""
    by_id = {span.span_id: span for span in spans}
    events: dict[str, set[str]] = defaultdict(set)
    for record in logs:
        if record.span_id in by_id:
            events[record.span_id].add(f"log:{record.level} {statement_of(record.template)}")
    for span in spans:
        parent = by_id.get(span.parent_id)
        if parent is not None and parent.entity != span.entity:
            events[parent.span_id].add(f"call:{span.entity} {span.operation}")
    counts: Counter[tuple[str, str]] = Counter()
    seen: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for span in spans:
        happened = events.get(span.span_id, set())
        parent = by_id.get(span.parent_id)
        context = parent.operation if parent is not None and parent.entity == span.entity else ""
        anchors = [f"{context} > {span.operation}"] + sorted(e for e in happened if e.startswith("log:"))
        for anchor in anchors:
            counts[(span.entity, anchor)] += 1
            seen[(span.entity, anchor)].update(happened - {anchor})
    return {anchor: (n, {e: c / n for e, c in seen[anchor].items()}) for anchor, n in counts.items()}
