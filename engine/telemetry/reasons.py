"""One-sentence, number-citing explanations of why an entity ranks where it does."""

from __future__ import annotations

from engine.telemetry.model import Incident
from engine.telemetry.signals import Signal
from engine.telemetry.profiles import window_edge_calls
from engine.telemetry.spans import EdgeCalls, latency_summary

MAX_MODALITIES = 2
MAX_NORMAL_CALLEES = 2


def explain(
    incident: Incident,
    entity: str,
    signals: dict[str, dict[str, Signal]],
    standing: dict[str, dict[str, float]],
    scores: dict[str, float],
) -> str:
    strongest = sorted((name for name in standing if entity in standing[name]), key=lambda n: -standing[n][entity])
    findings = [signals[name][entity].summary for name in strongest[:MAX_MODALITIES]]
    if not findings:
        return f"{entity}: no deviation from the fault-free baseline"
    return f"{entity}: " + "; ".join(findings) + _normal_callees(incident, entity, scores)


def _normal_callees(incident: Incident, entity: str, scores: dict[str, float]) -> str:
    if entity not in incident.topology:
        return ""
    own = scores.get(entity, 0.0)
    normal = sorted(c for c in incident.topology.successors(entity) if scores.get(c, 0.0) < 0.5 * own)
    if not normal:
        return ""
    calls = window_edge_calls(incident)
    described = [_callee(name, calls.get((entity, name))) for name in normal[:MAX_NORMAL_CALLEES]]
    more = f" and {len(normal) - MAX_NORMAL_CALLEES} more" if len(normal) > MAX_NORMAL_CALLEES else ""
    return f", while its downstream {', '.join(described)}{more} stayed normal"


def _callee(name: str, calls: EdgeCalls | None) -> str:
    if calls is None or not calls.durations_ms:
        return name
    success = 1.0 - calls.failed / len(calls.durations_ms)
    mean_ms = latency_summary(calls.durations_ms)["mean_ms"]
    return f"{name} ({success:.1%} success, {mean_ms:,.0f} ms)"
