"""Loader for the Nezha multimodal RCA data (Online Boutique and Train-Ticket).

Layout: `rca_data/<date>/{<date>-fault_list.json, metric/, trace/, log/}` (fault-suffering) and
`construct_data/<date>/...` (one fault-free reference window per day). See the dataset's SOURCE.md.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import networkx as nx

from engine.telemetry.errors import TelemetryError
from engine.telemetry.model import Alert, CaseRef, Incident, Label, MetricSeries, ReferenceMinute, Span, Window
from engine.telemetry.nezha_files import load_edge_table, load_logs, load_metric_file, load_spans, service_of
from engine.telemetry.profiles import minute_profile, reference_edge_calls
from engine.telemetry.readers import read_csv_rows, read_json
from engine.telemetry.spans import entry_service, span_edges

WINDOW_MINUTES = 2  # the two minute files after the injection; file HH_MM holds (HH:MM-1, HH:MM]
EARLIER_ALERTS = 5  # pre-alert minutes of this many earlier alerts of the day join the fault-free reference
METRIC_BASELINE_MINUTES = 30  # history before the injection used as the metric baseline
SYSTEMS = {"ts": "TrainTicket", "ob": "OnlineBoutique"}
INNER_LABEL_FILES = {"ts": "root_cause_ts.json", "ob": "root_cause_hipster.json"}
FRONTEND_SLI = "front_service.csv"
EDGE_LATENCY = "source_50.csv"  # OB only: per caller_callee edge, latency seen by the caller


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
    fault = faults[case_id]
    earlier = [f.inject_time for f in faults.values() if f.date == fault.date and f.inject_time < fault.inject_time]
    return _build_incident(root, fault, earlier[-EARLIER_ALERTS:])


def _faults(root: Path) -> list[Fault]:
    faults = []
    for day_dir in sorted(p for p in (root / "rca_data").iterdir() if p.is_dir()):
        faults.extend(_faults_of_day(root, day_dir))
    return faults


def _faults_of_day(root: Path, day_dir: Path) -> list[Fault]:
    date = day_dir.name
    fault_file = day_dir / f"{date}-fault_list.json"
    if not fault_file.exists():
        raise TelemetryError(f"{fault_file}: missing; expected the fault list of {date} beside its telemetry")
    listing = read_json(fault_file)
    if not isinstance(listing, dict) or not all(isinstance(entries, list) for entries in listing.values()):
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


def _build_incident(root: Path, fault: Fault, earlier_alerts: list[float]) -> Incident:
    day = root / "rca_data" / fault.date
    reference_dir = root / "construct_data" / fault.date
    minute_start = fault.inject_time - fault.inject_time % 60
    window = Window(fault.inject_time, minute_start + 60 * (1 + WINDOW_MINUTES))
    baseline = Window(minute_start - 60 * (METRIC_BASELINE_MINUTES + 1), minute_start - 60)
    missing: list[str] = []
    sources: list[str] = []
    metrics = _load_metrics(day / "metric", sources)
    edge_metrics = _load_edge_latency(day / "metric" / EDGE_LATENCY, sources)
    names = _minute_names(minute_start + 60, WINDOW_MINUTES)
    spans, trace_files = _read_minutes(day / "trace", [f"{n}_trace.csv.gz" for n in names], load_spans, missing, sources)
    logs, _ = _read_minutes(day / "log", [f"{n}_log.csv.gz" for n in names], load_logs, missing, sources)
    reference = _reference_minutes(reference_dir, day, [*earlier_alerts, fault.inject_time], missing, sources)
    baseline_spans = [span for minute in reference for span in minute.spans]
    topology = _topology(day / "metric" / "dependency.csv", spans, reference, sources)
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
        edge_metrics=edge_metrics,
        spans=spans,
        logs=logs,
        window_trace_minutes=float(trace_files),
        reference=reference,
        label=_label(root, fault),
        missing=missing,
        sources=sources,
    )
    if not any(len(series.between(window.start, window.metrics_end)["CpuUsageRate(%)"]) for series in metrics.values()):
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


def _load_edge_latency(path: Path, sources: list[str]) -> dict[tuple[str, str], MetricSeries]:
    if not path.exists():
        return {}
    table = load_edge_table(path)
    sources.append(str(path))
    edges = {}
    for column, values in table.values.items():
        caller, _, callee = column.partition("_")
        if callee:
            edges[(caller, callee)] = MetricSeries(column, table.times, {"latency_p50(s)": values})
    return edges


def _read_minutes(folder: Path, names: list[str], parse, missing: list[str], sources: list[str]) -> tuple[list, int]:
    records: list = []
    read = 0
    for name in names:
        path = folder / name
        if not path.exists():
            missing.append(f"{folder.name} {name} (not in this copy)")
            continue
        records.extend(parse(path))
        sources.append(str(path))
        read += 1
    return records, read


def _reference_minutes(
    reference_dir: Path, day: Path, alert_times: list[float], missing: list[str], sources: list[str]
) -> list[ReferenceMinute]:
    """The day's fault-free reference window(s), then the minute file that ends just before each alert
    (this one and a few earlier ones): same-day traffic before the fault."""
    names = sorted(path.name[:5] for path in (reference_dir / "trace").glob("??_??_trace.csv.gz"))
    names += sorted(path.name[:5] for path in (reference_dir / "log").glob("??_??_log.csv.gz"))
    folders = [(reference_dir, name) for name in sorted(set(names))]
    folders += [(day, _minute_names(t - t % 60, 1)[0]) for t in alert_times]
    minutes = []
    for folder, name in folders:
        trace_file, log_file = folder / "trace" / f"{name}_trace.csv.gz", folder / "log" / f"{name}_log.csv.gz"
        sources.extend(str(path) for path in (trace_file, log_file) if path.exists())
        minute = _reference_minute(str(trace_file), str(log_file), f"{folder.parent.name}/{name}")
        if minute.spans or minute.logs:
            minutes.append(minute)
    if not any(minute.spans for minute in minutes):
        missing.append(f"fault-free reference traces (none under {reference_dir} or before the alert)")
    if not any(minute.logs for minute in minutes):
        missing.append(f"fault-free reference logs (none under {reference_dir} or before the alert)")
    return minutes


@lru_cache(maxsize=64)
def _reference_minute(trace_file: str, log_file: str, name: str) -> ReferenceMinute:
    """One object per minute file pair, shared by the cases that use it (their summaries are cached on it)."""
    minute = ReferenceMinute(name, _read_if_present(Path(trace_file), load_spans), _read_if_present(Path(log_file), load_logs))
    minute_profile(minute)  # summarised once here, so that ranking any case of the day stays fast
    return minute


def _read_if_present(path: Path, parse) -> tuple:
    return parse(path) if path.exists() else ()


def _topology(dependency_csv: Path, spans: list[Span], reference: list[ReferenceMinute], sources: list[str]
              ) -> nx.DiGraph:
    graph = nx.DiGraph()
    # the reference's edges are those of its calls (spans.span_edges of its spans pooled); sorted: same graph every run
    for caller, callee in sorted(set(reference_edge_calls(reference)) | span_edges(spans)):
        graph.add_edge(caller, callee)
    if dependency_csv.exists():
        for row in read_csv_rows(dependency_csv, ("Source", "Target")):
            graph.add_edge(row["Source"], row["Target"])
        sources.append(str(dependency_csv))
    return graph


def _alert(sli_csv: Path, spans: list[Span], inject_time: float, window: Window) -> Alert:
    entry = entry_service(spans) or "frontend"
    description = f"front-end SLO alert at {_clock(inject_time)} UTC on {entry}"
    if sli_csv.exists():
        series = load_metric_file(sli_csv).between(window.start, window.metrics_end)
        latency = series.get("LatencyP90(s)")
        if latency is not None and len(latency):
            description += f": latency P90 up to {1000 * float(max(latency)):,.0f} ms"
    return Alert(entity=entry, signal="frontend latency / success rate", time=inject_time, description=description)


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


