"""Loader for mABC's sample format: per-endpoint per-minute statistics, a per-minute call map, alerts.

`simple_sample/{endpoints_stat.json, endpoints_maps.json, label.json}`. The label file maps an alert time to
the alerting endpoint; it has no root-cause field, so incidents from it carry no label. The sample has no
fault-free period: the analysis then compares endpoints with each other.
"""

from __future__ import annotations

import calendar
import math
import time
from pathlib import Path

import networkx as nx
import numpy as np

from engine.telemetry.errors import TelemetryError
from engine.telemetry.model import Alert, CaseRef, Incident, MetricSeries, Window
from engine.telemetry.readers import read_json

SAMPLE = "simple_sample"
STAT_FIELDS = ("calls", "success_rate", "error_rate", "average_duration", "timeout_rate")
ROOT_KEY = "None"  # endpoints_maps.json: entry calls


def is_mabc_dir(path: Path) -> bool:
    return (_sample_dir(path) / "endpoints_stat.json").exists()


def list_mabc_cases(root: Path) -> list[CaseRef]:
    return [CaseRef(case_id, "mABC-sample", "mabc", f"alert on {endpoint}") for case_id, (_, endpoint) in _alerts(root).items()]


def load_mabc_case(root: Path, case_id: str) -> Incident:
    alerts = _alerts(root)
    if case_id not in alerts:
        raise TelemetryError(f"{root}: no mABC case {case_id!r}; expected one of {', '.join(sorted(alerts))}")
    alert_time, endpoint = alerts[case_id]
    sample = _sample_dir(root)
    metrics = _endpoint_metrics(sample / "endpoints_stat.json")
    topology = _call_map(sample / "endpoints_maps.json")
    entities = sorted(set(metrics) | set(topology.nodes))
    topology.add_nodes_from(entities)
    last = max(float(series.times.max()) for series in metrics.values()) + 60
    return Incident(
        case_id=case_id,
        system="mABC-sample",
        entities=entities,
        topology=topology,
        alert=Alert(endpoint, "response time", alert_time, f"endpoint {endpoint} response time rising"),
        window=Window(alert_time, last),
        baseline=Window(alert_time, alert_time),  # no fault-free period in the sample
        metrics=metrics,
        missing=["fault-free baseline (the sample has only the alert minutes)", "traces", "logs", "root-cause label"],
        sources=[str(sample / name) for name in ("endpoints_stat.json", "endpoints_maps.json", "label.json")],
    )


def _sample_dir(root: Path) -> Path:
    return root if root.name == SAMPLE else root / SAMPLE


def _alerts(root: Path) -> dict[str, tuple[float, str]]:
    path = _sample_dir(root) / "label.json"
    document = read_json(path)
    if not isinstance(document, dict):
        raise TelemetryError(f"{path}: expected an object mapping 'YYYY-MM-DD HH:MM:SS' -> {{endpoint: paths}}")
    alerts = {}
    for stamp, entry in document.items():
        if not isinstance(entry, dict):
            raise TelemetryError(f"{path}: alert {stamp!r} should map endpoint -> list of paths")
        for endpoint in entry:
            alerts[f"{stamp.replace(' ', 'T')[:16]}-{endpoint}"] = (_epoch(path, stamp), endpoint)
    return alerts


def _epoch(path: Path, stamp: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")))
    except ValueError:
        raise TelemetryError(f"{path}: time {stamp!r} is not 'YYYY-MM-DD HH:MM:SS'") from None


def _endpoint_metrics(path: Path) -> dict[str, MetricSeries]:
    document = read_json(path)
    if not isinstance(document, dict) or not document:
        raise TelemetryError(f"{path}: expected {{endpoint: {{time: {{{', '.join(STAT_FIELDS)}}}}}}}")
    metrics = {}
    for endpoint, per_minute in document.items():
        stamps = sorted(per_minute)
        times = np.array([_epoch(path, stamp) for stamp in stamps])
        values = {name: np.array([_stat(path, endpoint, per_minute[s], name) for s in stamps]) for name in STAT_FIELDS}
        metrics[endpoint] = MetricSeries(endpoint, times, values)
    return metrics


def _stat(path: Path, endpoint: str, record: dict, name: str) -> float:
    try:
        value = float(record[name])
    except (KeyError, TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise TelemetryError(f"{path}: {endpoint}: each minute needs a numeric {name!r} (a finite number), got {record!r:.80}")
    return value


def _call_map(path: Path) -> nx.DiGraph:
    graph = nx.DiGraph()
    if not path.exists():
        return graph
    document = read_json(path)
    if not isinstance(document, dict):
        raise TelemetryError(f"{path}: expected {{parent endpoint: {{time: [child endpoints]}}}}")
    for parent, per_minute in document.items():
        for children in per_minute.values():
            for child in children:
                if parent == ROOT_KEY:
                    graph.add_node(child)
                else:
                    graph.add_edge(parent, child)
    return graph
