"""The agents' tools: plain functions over an Incident that return JSON-able dicts of numbers.

Every "vs baseline" figure compares the incident window with the fault-free reference (metrics: the
baseline window; spans and logs: the reference minutes).
"""

from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np

from engine.telemetry.model import Incident, LogRecord
from engine.telemetry.profiles import reference_edge_calls, window_edge_calls
from engine.telemetry.signals import metric_deviations
from engine.telemetry.spans import latency_summary

__all__ = [
    "baseline_comparison",
    "dependencies",
    "edge_statistics",
    "log_statistics",
    "metric_query",
    "propagation_path",
]


def metric_query(
    incident: Incident, entity: str, metric: str | None = None, start: float | None = None, end: float | None = None
) -> dict:
    """Samples of one entity's metrics (all, or names containing `metric`) between start and end
    (default: the incident window plus one minute)."""
    series = incident.metrics.get(entity)
    start = incident.window.start if start is None else start
    end = incident.window.metrics_end if end is None else end
    result: dict = {"entity": entity, "start": start, "end": end, "metrics": {}}
    if series is None:
        return result | {"error": f"no metrics for {entity!r}"}
    mask = (series.times >= start) & (series.times < end)
    for name, values in series.values.items():
        if metric is None or metric.lower() in name.lower():
            picked = values[mask]
            result["metrics"][name] = {
                "times": [float(t) for t in series.times[mask]],
                "values": [_plain(v) for v in picked],
                "mean": _plain(np.nanmean(picked)) if np.isfinite(picked).any() else None,
                "max": _plain(np.nanmax(picked)) if np.isfinite(picked).any() else None,
            }
    return result


def dependencies(incident: Incident, entity: str) -> dict:
    """Direct callers (upstream) and callees (downstream) of an entity in the call graph."""
    graph = incident.topology
    if entity not in graph:
        return {"entity": entity, "upstream": [], "downstream": [], "error": f"{entity!r} is not in the topology"}
    return {
        "entity": entity,
        "upstream": sorted(graph.predecessors(entity)),
        "downstream": sorted(graph.successors(entity)),
    }


def edge_statistics(incident: Incident, entity: str | None = None) -> list[dict]:
    """Per caller -> callee edge: calls per minute, error rate (a call whose span logged an ERROR),
    mean / p95 latency of the callee span, each with its baseline value. Filtered to edges touching
    `entity` when given."""
    window = window_edge_calls(incident)
    reference = reference_edge_calls(incident.reference)
    minutes = incident.window_trace_minutes or 1.0
    reference_minutes = incident.reference_trace_minutes or 1.0
    rows = []
    for caller, callee in sorted(set(window) | set(reference)):
        if entity is not None and entity not in (caller, callee):
            continue
        now, before = window.get((caller, callee)), reference.get((caller, callee))
        rows.append(
            {"caller": caller, "callee": callee}
            | _call_figures(now, minutes, "")
            | _call_figures(before, reference_minutes, "baseline_")
        )
    return rows


def _call_figures(calls, minutes: float, prefix: str) -> dict:
    durations = calls.durations_ms if calls else []
    summary = latency_summary(durations)
    return {
        f"{prefix}calls_per_min": round(len(durations) / minutes, 2),
        f"{prefix}error_rate": round(calls.failed / len(durations), 4) if durations else None,
        f"{prefix}mean_ms": _plain(summary["mean_ms"]),
        f"{prefix}p95_ms": _plain(summary["p95_ms"]),
    }


def log_statistics(incident: Incident, entity: str | None = None, top: int = 3) -> dict[str, dict]:
    """Per entity: log lines and errors per minute in the window and in the baseline, and the error
    templates that the baseline never showed."""
    minutes = incident.window_trace_minutes or 1.0
    reference_minutes = incident.reference_log_minutes or 1.0
    known = {(r.entity, r.template) for r in incident.baseline_logs}
    result = {}
    for name in sorted({r.entity for r in incident.logs} | {r.entity for r in incident.baseline_logs}):
        if entity is not None and name != entity:
            continue
        now = [r for r in incident.logs if r.entity == name]
        before = [r for r in incident.baseline_logs if r.entity == name]
        fresh = Counter(r.template for r in now if r.level == "ERROR" and (name, r.template) not in known)
        result[name] = {
            "logs_per_min": round(len(now) / minutes, 2),
            "errors_per_min": round(_errors(now) / minutes, 2),
            "baseline_logs_per_min": round(len(before) / reference_minutes, 2),
            "baseline_errors_per_min": round(_errors(before) / reference_minutes, 2),
            "new_error_templates": [{"template": t, "count": c} for t, c in fresh.most_common(top)],
        }
    return result


def _errors(records: list[LogRecord]) -> int:
    return sum(1 for r in records if r.level == "ERROR")


def baseline_comparison(incident: Incident, entity: str) -> dict[str, dict]:
    """Each metric of an entity: worst window value, its normal level and the robust z-score."""
    per_metric = metric_deviations(incident).get(entity, {})
    return {
        name: {"value": _plain(d.value), "normal": _plain(d.level), "z": round(d.z, 2)}
        for name, d in sorted(per_metric.items())
    }


def propagation_path(incident: Incident, root: str) -> list[str]:
    """From the root cause up to the alerted entity along the call graph (callee -> caller hops)."""
    alerted = incident.alert.entity
    graph = incident.topology
    for view in (graph, graph.to_undirected(as_view=True)):
        if root in view and alerted in view and nx.has_path(view, alerted, root):
            return list(reversed(nx.shortest_path(view, alerted, root)))
    return [root] if root == alerted else [root, alerted]


def _plain(value) -> float | None:
    value = float(value)
    return round(value, 4) if np.isfinite(value) else None
