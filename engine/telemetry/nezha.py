"""Loader for the Nezha multimodal RCA data (Online Boutique and Train-Ticket).

Layout: `rca_data/<date>/{<date>-fault_list.json, metric/, trace/, log/}` (fault-suffering) and
`construct_data/<date>/...` (one fault-free reference window per day). See the dataset's SOURCE.md.
"""

from __future__ import annotations

import calendar
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from engine.telemetry.errors import TelemetryError
from engine.telemetry.model import Alert, CaseRef, Incident, Label, MetricSeries, Span, Window
from engine.telemetry.nezha_files import load_logs, load_metric_file, load_spans, service_of
from engine.telemetry.readers import read_csv_rows, read_json

WINDOW_MINUTES = 3  # the injection minute and the next two, as Nezha analyses
METRIC_BASELINE_MINUTES = 30  # history before the injection used as the metric baseline
SYSTEMS = {"ts": "TrainTicket", "ob": "OnlineBoutique"}
INNER_LABEL_FILES = {"ts": "root_cause_ts.json", "ob": "root_cause_hipster.json"}
FRONTEND_SLI = "front_service.csv"


@dataclass(frozen=True)
class Fault:
    case_id: str
    date: str
    system_key: str  # "ts" or "ob"
    inject_time: float
    inject_pod: str
    inject_type: str


def is_nezha_dir(path: Path) -> bool:
    return (path / "rca_data").is_dir()


def list_nezha_cases(root: Path) -> list[CaseRef]:
    return [
        CaseRef(fault.case_id, SYSTEMS[fault.system_key], "nezha", f"alert at {_clock(fault.inject_time)} UTC")
        for fault in _faults(root)
    ]


def load_nezha_case(root: Path, case_id: str) -> Incident:
    faults = {fault.case_id: fault for fault in _faults(root)}
    if case_id not in faults:
        raise TelemetryError(f"{root}: no Nezha case {case_id!r}; expected one of {', '.join(sorted(faults)) or 'none'}")
    return _build_incident(root, faults[case_id])


def _faults(root: Path) -> list[Fault]:
    faults = []
    for day_dir in sorted(p for p in (root / "rca_data").iterdir() if p.is_dir()):
        faults.extend(_faults_of_day(root, day_dir))
    return faults


def _faults_of_day(root: Path, day_dir: Path) -> list[Fault]:
    date = day_dir.name
    fault_file = day_dir / f"{date}-fault_list.json"
    if not fault_file.exists():
        return []
    listing = read_json(fault_file)
    if not isinstance(listing, dict):
        raise TelemetryError(f"{fault_file}: expected an object mapping hour -> list of faults")
    system_key = _system_key(day_dir / "metric")
    prefix = "tt" if system_key == "ts" else "ob"
    named = _case_ids_from_index(root, date)
    faults = []
    for hour in sorted(listing):
        for position, entry in enumerate(listing[hour]):
            key = f"{hour}[{position}]"
            case_id = named.get(key, f"{prefix}-{date}-{len(faults):02d}")
            faults.append(_fault(fault_file, case_id, date, system_key, entry))
    return faults


def _case_ids_from_index(root: Path, date: str) -> dict[str, str]:
    """Case ids from cases.csv when the folder has one (so a trimmed copy keeps the original ids)."""
    index = root / "cases.csv"
    if not index.exists():
        return {}
    rows = read_csv_rows(index, ("case_id", "date", "fault_list_key"))
    return {row["fault_list_key"]: row["case_id"] for row in rows if row["date"] == date}


def _fault(fault_file: Path, case_id: str, date: str, system_key: str, entry: dict) -> Fault:
    try:
        inject_time = calendar.timegm(time.strptime(entry["inject_time"], "%Y-%m-%d %H:%M:%S"))
        return Fault(case_id, date, system_key, float(inject_time), entry["inject_pod"], entry["inject_type"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TelemetryError(
            f"{fault_file}: fault entry {entry!r} needs inject_time 'YYYY-MM-DD HH:MM:SS', inject_pod, inject_type"
        ) from exc


def _system_key(metric_dir: Path) -> str:
    pods = [p.name for p in metric_dir.glob("*_metric.csv")]
    if not pods:
        raise TelemetryError(f"{metric_dir}: no <pod>_metric.csv files; expected per-pod metric CSVs")
    return "ts" if any(name.startswith("ts-") for name in pods) else "ob"


def _minute_names(start: float, minutes: int) -> list[str]:
    return [time.strftime("%H_%M", time.gmtime(start + 60 * k)) for k in range(minutes)]


def _build_incident(root: Path, fault: Fault) -> Incident:
    day = root / "rca_data" / fault.date
    reference = root / "construct_data" / fault.date
    minute_start = fault.inject_time - fault.inject_time % 60
    window = Window(minute_start, minute_start + 60 * WINDOW_MINUTES)
    baseline = Window(minute_start - 60 * (METRIC_BASELINE_MINUTES + 1), minute_start - 60)
    missing: list[str] = []
    sources: list[str] = []
    metrics = _load_metrics(day / "metric", sources)
    names = _minute_names(minute_start, WINDOW_MINUTES)
    spans = _read_minutes(day / "trace", [f"{n}_trace.csv.gz" for n in names], load_spans, missing, sources)
    logs = _read_minutes(day / "log", [f"{n}_log.csv.gz" for n in names], load_logs, missing, sources)
    baseline_spans, trace_minutes = _read_reference(reference / "trace", "*_trace.csv.gz", load_spans, missing, sources)
    baseline_logs, _ = _read_reference(reference / "log", "*_log.csv.gz", load_logs, missing, sources)
    topology = _topology(day / "metric" / "dependency.csv", spans, baseline_spans, sources)
    entities = sorted(set(metrics) | set(topology.nodes))
    topology.add_nodes_from(entities)
    incident = Incident(
        case_id=fault.case_id,
        system=SYSTEMS[fault.system_key],
        entities=entities,
        topology=topology,
        alert=_alert(day / "metric" / FRONTEND_SLI, baseline_spans or spans, fault.inject_time, window),
        window=window,
        baseline=baseline,
        metrics=metrics,
        spans=spans,
        baseline_spans=baseline_spans,
        logs=logs,
        baseline_logs=baseline_logs,
        window_trace_minutes=float(WINDOW_MINUTES),
        baseline_trace_minutes=trace_minutes,
        label=_label(root, fault),
        missing=missing,
        sources=sources,
    )
    if not any(len(series.between(window.start, window.end + 60)["CpuUsageRate(%)"]) for series in metrics.values()):
        raise TelemetryError(f"{day / 'metric'}: no metric rows between {_clock(window.start)} and {_clock(window.end)}")
    return incident


def _load_metrics(metric_dir: Path, sources: list[str]) -> dict[str, MetricSeries]:
    metrics = {}
    for path in sorted(metric_dir.glob("*_metric.csv")):
        series = load_metric_file(path)
        if "CpuUsageRate(%)" not in series.values:
            raise TelemetryError(f"{path}: missing column CpuUsageRate(%); expected Nezha per-pod metric columns")
        metrics[series.entity] = series
        sources.append(str(path))
    return metrics


def _read_minutes(folder: Path, names: list[str], parse, missing: list[str], sources: list[str]) -> list:
    records: list = []
    for name in names:
        path = folder / name
        if not path.exists():
            missing.append(f"{folder.name} {name} (not in this copy)")
            continue
        records.extend(parse(path))
        sources.append(str(path))
    return records


def _read_reference(folder: Path, pattern: str, parse, missing: list[str], sources: list[str]) -> tuple[list, float]:
    paths = sorted(folder.glob(pattern)) if folder.is_dir() else []
    if not paths:
        missing.append(f"fault-free reference {folder.name} ({folder} has no {pattern})")
    records: list = []
    for path in paths:
        records.extend(parse(path))
        sources.append(str(path))
    return records, float(len(paths))


def _topology(dependency_csv: Path, spans: list[Span], baseline_spans: list[Span], sources: list[str]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for caller, callee in span_edges(baseline_spans) | span_edges(spans):
        graph.add_edge(caller, callee)
    if dependency_csv.exists():
        for row in read_csv_rows(dependency_csv, ("Source", "Target")):
            graph.add_edge(row["Source"], row["Target"])
        sources.append(str(dependency_csv))
    return graph


def span_edges(spans: list[Span]) -> set[tuple[str, str]]:
    entity_of = {span.span_id: span.entity for span in spans}
    return {
        (entity_of[span.parent_id], span.entity)
        for span in spans
        if span.parent_id in entity_of and entity_of[span.parent_id] != span.entity
    }


def _alert(sli_csv: Path, spans: list[Span], inject_time: float, window: Window) -> Alert:
    entry = _entry_service(spans)
    description = f"front-end SLO alert at {_clock(inject_time)} UTC on {entry}"
    if sli_csv.exists():
        series = load_metric_file(sli_csv).between(window.start, window.end + 60)
        latency = series.get("LatencyP90(s)")
        if latency is not None and len(latency):
            description += f": latency P90 up to {1000 * float(max(latency)):,.0f} ms"
    return Alert(entity=entry, signal="frontend latency / success rate", time=inject_time, description=description)


def _entry_service(spans: list[Span]) -> str:
    roots = Counter(span.entity for span in spans if not span.parent_id)
    return roots.most_common(1)[0][0] if roots else "frontend"


def _label(root: Path, fault: Fault) -> Label:
    service = service_of(fault.inject_pod)
    inner_file = root / "construct_data" / INNER_LABEL_FILES[fault.system_key]
    detail = None
    if inner_file.exists():
        inner = read_json(inner_file)
        detail = inner.get(service, {}).get(fault.inject_type) if isinstance(inner, dict) else None
    return Label(root_cause=service, fault_type=fault.inject_type, detail=detail)


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch))


