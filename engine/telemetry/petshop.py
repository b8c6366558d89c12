"""Loader for the PetShop RCA dataset (AWS PetAdoptions; metrics only, 5-minute steps).

Layout: `dataset/<scenario>/{graph.csv, noissue/metrics.csv, train|test/issue_<k>/{metrics.csv, target.json}}`.
`target.json` gives the alert (target node, metric, time) and the label (root_cause.node). Its
`metadata` (how the fault was injected) gives the answer away and is never read.
"""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np

from engine.telemetry.errors import TelemetryError
from engine.telemetry.model import Alert, CaseRef, Incident, Label, MetricSeries, Window
from engine.telemetry.readers import check_width, count_missing, read_csv_table, read_json, to_number, to_sample

STEP_SECONDS = 300
ALERT_SLACK_SECONDS = 60  # a step stamped just before the alert time already carries the fault
HEADER_ROWS = ("microservice", "metric", "statistic")
# X-Ray names: `<host>_remote` is an uninstrumented endpoint seen by its caller, `<name>_client` the
# calling side of a call; both only mirror the component behind them
OBSERVATION_SUFFIXES = ("_remote", "_client")


def is_petshop_dir(path: Path) -> bool:
    return (path / "dataset").is_dir() and any((path / "dataset").glob("*/graph.csv"))


def list_petshop_cases(root: Path) -> list[CaseRef]:
    return [CaseRef(_case_id(issue), "PetShop", "petshop", _scenario(issue)) for issue in _issue_dirs(root)]


def load_petshop_case(root: Path, case_id: str) -> Incident:
    issues = {_case_id(issue): issue for issue in _issue_dirs(root)}
    if case_id not in issues:
        raise TelemetryError(f"{root}: no PetShop case {case_id!r}; expected one of {', '.join(sorted(issues))}")
    return _build_incident(issues[case_id], case_id)


def _issue_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "dataset").glob("*/*/issue_*/target.json"))


def _case_id(issue: Path) -> str:
    return f"{_scenario(issue)}/{issue.parent.name}/{issue.name}"


def _scenario(issue: Path) -> str:
    return issue.parent.parent.name


def _build_incident(issue: Path, case_id: str) -> Incident:
    scenario_dir = issue.parent.parent
    target = _target(issue / "target.json")
    window_table = read_metrics_csv(issue / "metrics.csv")
    sources = [str(issue / "metrics.csv"), str(issue / "target.json"), str(scenario_dir / "graph.csv")]
    missing: list[str] = []
    normal_csv = scenario_dir / "noissue" / "metrics.csv"
    alert_time = target["timestamp"]
    window = Window(alert_time - ALERT_SLACK_SECONDS, float(window_table[0][-1]) + STEP_SECONDS)
    if normal_csv.exists():
        normal_table = read_metrics_csv(normal_csv)
        sources.append(str(normal_csv))
        baseline = Window(float(normal_table[0][0]), float(normal_table[0][-1]) + 1)
        metrics = _with_impact(_join(normal_table, window_table))
    else:
        missing.append(f"normal-operation metrics ({normal_csv} absent): baseline = the steps before the alert")
        baseline = Window(float(window_table[0][0]), alert_time - ALERT_SLACK_SECONDS)
        metrics = _with_impact(_series(window_table))
    topology = read_adjacency(scenario_dir / "graph.csv")
    entities = sorted(set(topology.nodes) | set(metrics))
    topology.add_nodes_from(entities)
    return Incident(
        case_id=case_id,
        system="PetShop",
        entities=entities,
        topology=topology,
        alert=Alert(
            entity=target["node"],
            signal=f"{target['metric']} ({target['agg']})",
            time=alert_time,
            description=f"SLO violation: {target['node']} {target['metric']} ({target['agg']})",
            metric_family=target["metric"],
        ),
        window=window,
        baseline=baseline,
        metrics=metrics,
        label=Label(root_cause=target["root_cause"], fault_type=target["fault_type"]) if target["root_cause"] else None,
        observed_only={entity for entity in entities if entity.endswith(OBSERVATION_SUFFIXES)},
        missing=missing,
        sources=sources,
    )


def _target(path: Path) -> dict:
    document = read_json(path)
    try:
        target = document["target"]
        root_cause = document.get("root_cause") or {}
        return {
            "node": str(target["node"]),
            "metric": str(target["metric"]),
            "agg": str(target.get("agg", "")),
            "timestamp": float(target["timestamp"]),
            "root_cause": root_cause.get("node"),
            "fault_type": root_cause.get("fault_type"),  # only generated datasets (`rca-tui synth`) record it
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise TelemetryError(f"{path}: expected target.node, target.metric, target.timestamp ({exc})") from exc


MetricTable = tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]  # times, entity -> metric -> values


def read_metrics_csv(path: Path) -> MetricTable:
    """The 3-row-header CSV (microservice / metric / statistic), a `unix_timestamp` row, then one row per step."""
    rows = read_csv_table(path)
    if len(rows) < 5 or tuple(row[0] for row in rows[:3]) != HEADER_ROWS:
        raise TelemetryError(
            f"{path}: expected header rows {', '.join(HEADER_ROWS)}, a unix_timestamp row and at least one data row"
        )
    columns = list(zip(rows[0][1:], rows[1][1:], rows[2][1:]))
    data = [(number, row) for number, row in enumerate(rows[4:], start=5) if row]  # (row number, cells)
    for number, row in data:
        check_width(path, number, row, len(rows[0]))
    times = np.array([to_number(path, number, "unix_timestamp", row[0]) for number, row in data])
    table: dict[str, dict[str, np.ndarray]] = {}
    for index, (entity, metric, statistic) in enumerate(columns, start=1):
        name = f"{metric}.{statistic}"
        values = np.array([to_sample(path, number, f"{entity}/{name}", row[index]) for number, row in data])
        table.setdefault(entity, {})[name] = values
    return times, table


def _with_impact(metrics: dict[str, MetricSeries]) -> dict[str, MetricSeries]:
    """Add per-step failed requests and request-seconds: a rarely called node that fails its only call
    reads 0% available, yet hurts the alerted service far less than a busy node losing 3%."""
    for series in metrics.values():
        requests = series.values.get("requests.Sum")
        if requests is None:
            continue
        if "availability.Average" in series.values:
            series.values["availability.failed_requests"] = requests * (100.0 - series.values["availability.Average"]) / 100.0
        if "latency.Average" in series.values:
            series.values["latency.request_seconds"] = requests * series.values["latency.Average"]
    return metrics


def _series(table: MetricTable) -> dict[str, MetricSeries]:
    times, per_entity = table
    return {entity: MetricSeries(entity, times, values, count_missing(values)) for entity, values in per_entity.items()}


def _join(first: MetricTable, second: MetricTable) -> dict[str, MetricSeries]:
    times = np.concatenate([first[0], second[0]])
    joined = {}
    for entity in sorted(set(first[1]) | set(second[1])):
        names = set(first[1].get(entity, {})) | set(second[1].get(entity, {}))
        values = {name: np.concatenate([_column(first, entity, name), _column(second, entity, name)]) for name in names}
        joined[entity] = MetricSeries(entity, times, values, count_missing(values))
    return joined


def _column(table: MetricTable, entity: str, name: str) -> np.ndarray:
    return table[1].get(entity, {}).get(name, np.full(len(table[0]), math.nan))


def read_adjacency(path: Path) -> nx.DiGraph:
    rows = read_csv_table(path)
    if not rows or len(rows[0]) < 2:
        raise TelemetryError(f"{path}: expected a square adjacency matrix with node names in the first row and column")
    names = rows[0][1:]
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(names) + 1:
            raise TelemetryError(f"{path}: row {number} ({row[0]!r}) has {len(row) - 1} cells; expected {len(names)}")
        for callee, cell in zip(names, row[1:]):
            if to_number(path, number, callee, cell) > 0:
                graph.add_edge(row[0], callee)
    return graph
