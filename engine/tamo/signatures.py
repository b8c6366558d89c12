"""Fault signatures per entity over the alert window, for T3 (the fault-type classifier).

Where the grid channels say *when* and *how much* an entity deviates, a fault type is told apart by *which kind*
of evidence moves at the root cause:

- an early `return` writes ERROR lines at the root itself (new error templates, errors far above the reference
  rate) while its log volume barely changes;
- an `exception` mostly cuts the request short: the root logs and calls less (log volume and span count drop,
  templates the reference always wrote go missing) and the errors show up at its callers;
- `network_delay` lengthens the calls into the entity (edge latency) while the entity itself serves as fast as
  before (its server latency does not move): the delay is on the wire;
- `cpu_consumed` / `cpu_contention` move the CPU channels; contention also adds a competing process, whose few
  MiB of memory show up in the memory delta.

Log signatures are computed here from the raw records (per minute, against the fault-free reference minutes);
T3 adds a summary of the grid channels (window level, its change against the minutes before the alert, extremes).
Only telemetry is read, never the label.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from engine.telemetry.model import Incident, LogRecord
from engine.tamo.grid import STEPS_BEFORE, Grid
from engine.tamo.logs import _cluster_templates, _logs_on_grid

LOG_SIGNATURES = (
    "log_present",  # the entity writes logs at all (in the reference or the window)
    "log_volume",  # log-ratio of lines per minute, window vs reference
    "log_errors",  # log-ratio of ERROR lines per minute, window vs reference
    "log_error_share",  # share of ERROR lines in the window minus that share in the reference
    "log_new_error_templates",  # log1p of ERROR templates the entity never wrote in the reference
    "log_new_error_lines",  # log1p of ERROR lines per minute of those new templates
    "log_missing_templates",  # share of the entity's regular reference templates absent from the window
)
# metric column -> offset added to both sides of the ratio (in the metric's unit), so a near-zero baseline
# does not turn noise into a huge ratio
METRIC_RATIOS = {
    "CpuUsageRate(%)": 1.0,
    "MemoryUsageRate(%)": 1.0,
    "NodeCpuUsageRate(%)": 1.0,
    "NodeMemoryUsageRate(%)": 1.0,
    "SyscallRead": 10.0,
    "SyscallWrite": 10.0,
    "NetworkReceiveBytes": 1000.0,
    "NetworkTransmitBytes": 1000.0,
    "PodServerLatencyP90(s)": 0.005,
    "PodClientLatencyP90(s)": 0.005,
    "PodWorkload(Ops)": 1.0,
    "PodSuccessRate(%)": 1.0,
}
# metric column -> absolute change, window mean minus baseline median, as sign * log1p(|change|): an extra process
# in the container (CPU contention) adds megabytes and node CPU whatever the service's own size
METRIC_DELTAS = ("MemoryUsage(Mi)", "CpuUsage(m)", "NodeCpuUsageRate(%)")
EDGE_LATENCY_OFFSET = 0.005  # seconds added to both sides of an edge-latency ratio
EDGE_SIGNATURES = (
    "edge_in_latency",  # largest log-ratio of latency on a call into the entity, window mean vs baseline median
    "wire_delay",  # that minus the entity's own server-latency ratio (0 without calls into it)
)
METRIC_SIGNATURES = (tuple(f"ratio:{name}" for name in METRIC_RATIOS)  # log-ratio, window mean vs baseline median
                     + tuple(f"delta:{name}" for name in METRIC_DELTAS) + EDGE_SIGNATURES)
SIGNATURES = LOG_SIGNATURES + METRIC_SIGNATURES
SIGNATURE_MODALITY = tuple("logs" if name.startswith("log_") else "metrics" for name in SIGNATURES)
WINDOW_START = STEPS_BEFORE  # grid bin of the alert minute; the window is that bin and the ones after it
REGULAR_PER_MINUTE = 2.0  # a reference template written at least this often per minute is "regular"


def log_signature(incident: Incident, grid: Grid, index: dict[str, int]) -> np.ndarray:
    """[N, len(LOG_SIGNATURES)] per entity; zeros for entities (or incidents) without logs."""
    out = np.zeros((len(index), len(LOG_SIGNATURES)), dtype=np.float32)
    minutes = [list(minute.logs) for minute in incident.reference if minute.logs]
    window = [r for r, b in _binned(_logs_on_grid(incident, grid), grid) if b >= WINDOW_START]
    if not minutes or not window:
        return out
    reference = [r for minute in minutes for r in minute]
    cluster_of = _cluster_templates([r.template for r in reference] + [r.template for r in window])
    window_minutes = float(len({int(b) for _, b in _binned(window, grid)}))
    ref, now = _counts(reference, cluster_of), _counts(window, cluster_of)
    for entity, i in index.items():
        if entity not in ref["lines"] and entity not in now["lines"]:
            continue
        r_lines, n_lines = ref["lines"][entity] / len(minutes), now["lines"][entity] / window_minutes
        r_err, n_err = ref["errors"][entity] / len(minutes), now["errors"][entity] / window_minutes
        new_errors = {c: n for c, n in now["error_templates"][entity].items() if c not in ref["templates"][entity]}
        regular = {c for c, n in ref["templates"][entity].items() if n / len(minutes) >= REGULAR_PER_MINUTE}
        missing = sum(1 for c in regular if c not in now["templates"][entity]) / len(regular) if regular else 0.0
        out[i] = (1.0, np.log((n_lines + 1.0) / (r_lines + 1.0)), np.log((n_err + 1.0) / (r_err + 1.0)),
                  n_err / (n_lines + 1.0) - r_err / (r_lines + 1.0), np.log1p(len(new_errors)),
                  np.log1p(sum(new_errors.values()) / window_minutes), missing)
    return out


def metric_signature(incident: Incident, grid: Grid, index: dict[str, int]) -> np.ndarray:
    """[N, len(METRIC_SIGNATURES)]: per metric column, log((window mean + offset) / (baseline median + offset)),
    the absolute changes against the baseline, then the edge-latency signatures.

    A ratio rather than a z-score: how much of its usual level an entity gained (memory +30 % under CPU
    contention, +3 % when the service itself burns CPU) reads the same on a busy and on a quiet service."""
    out = np.zeros((len(index), len(METRIC_SIGNATURES)), dtype=np.float32)
    deltas = len(METRIC_RATIOS)
    for entity, series in incident.metrics.items():
        if entity not in index:
            continue
        baseline = series.between(incident.baseline.start, incident.baseline.end)
        row = out[index[entity]]
        for k, (name, offset) in enumerate(METRIC_RATIOS.items()):
            row[k] = _log_ratio(series, baseline, name, grid, offset)
        for k, name in enumerate(METRIC_DELTAS, start=deltas):
            row[k] = _signed_log(_window_change(series, baseline, name, grid))
    out[:, -len(EDGE_SIGNATURES):] = edge_signature(incident, grid, index,
                                                    out[:, list(METRIC_RATIOS).index("PodServerLatencyP90(s)")])
    return out


def edge_signature(incident: Incident, grid: Grid, index: dict[str, int], server_ratio: np.ndarray) -> np.ndarray:
    """[N, len(EDGE_SIGNATURES)] from the per-edge latency series (zeros where a system has none).

    A delay on the wire into an entity slows its callers' calls while the entity serves as fast as before; an
    entity slow on its own (CPU) is slow on both, so the difference stays near zero."""
    out = np.zeros((len(index), len(EDGE_SIGNATURES)), dtype=np.float32)
    ratios = defaultdict(list)
    for (_, callee), series in incident.edge_metrics.items():
        if callee in index:
            baseline = series.between(incident.baseline.start, incident.baseline.end)
            ratios[callee] += [_log_ratio(series, baseline, name, grid, EDGE_LATENCY_OFFSET) for name in series.values]
    for callee, values in ratios.items():
        out[index[callee]] = max(values), max(values) - server_ratio[index[callee]]
    return out


def _log_ratio(series, baseline: dict[str, np.ndarray], name: str, grid: Grid, offset: float) -> float:
    reference, window = _reference_and_window(series, baseline, name, grid)
    if not len(reference) or not len(window):
        return 0.0
    return float(np.log((max(window.mean(), 0.0) + offset) / (max(float(np.median(reference)), 0.0) + offset)))


def _window_change(series, baseline: dict[str, np.ndarray], name: str, grid: Grid) -> float:
    reference, window = _reference_and_window(series, baseline, name, grid)
    return float(window.mean() - np.median(reference)) if len(reference) and len(window) else 0.0


def _reference_and_window(series, baseline: dict[str, np.ndarray], name: str, grid: Grid):
    """The finite baseline values and window bin means of one column (empty when the column is absent)."""
    if name not in series.values:
        return np.zeros(0), np.zeros(0)
    reference = baseline[name][np.isfinite(baseline[name])]
    window = grid.bin_means(series.times, series.values[name])[WINDOW_START:]
    return reference, window[np.isfinite(window)]


def _signed_log(change: float) -> float:
    return float(np.sign(change) * np.log1p(abs(change)))


def _binned(records: list[LogRecord], grid: Grid) -> list[tuple[LogRecord, int]]:
    if not records:
        return []
    return list(zip(records, grid.bin_of(np.array([r.time for r in records])).tolist()))


def _counts(records: list[LogRecord], cluster_of: dict[str, int]) -> dict[str, dict]:
    lines, errors = Counter(), Counter()
    templates: dict[str, Counter] = defaultdict(Counter)
    error_templates: dict[str, Counter] = defaultdict(Counter)
    for record in records:
        cluster = cluster_of[record.template]
        lines[record.entity] += 1
        templates[record.entity][cluster] += 1
        if record.level == "ERROR":
            errors[record.entity] += 1
            error_templates[record.entity][cluster] += 1
    return {"lines": lines, "errors": errors, "templates": templates, "error_templates": error_templates}
