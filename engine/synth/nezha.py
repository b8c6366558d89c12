"""Synthetic Nezha days: real fault-free minutes of a source day, placed where the day's metrics are free of
real faults, each case injected with one fault; written in Nezha's own layout so the Nezha loader reads it.

Cases beyond one day's free slots go to further days: the source day's metrics repeated one, two, ... days
later (the dates in the output are the source date plus that many days).
"""

from __future__ import annotations

import calendar
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np

from engine.parallel import ordered_map
from engine.synth.catalog import ONSET_SECOND, parse_fault_types
from engine.synth.files import write_csv, write_json
from engine.synth.logs import ErrorTemplates
from engine.synth.metric_faults import MetricTable, Reach, inject_metrics
from engine.synth.nezha_minutes import NS, BackgroundMinute, Placement, write_minute
from engine.synth.nezha_source import (BASELINE_S, CASE_SPAN_S, NezhaDay, day_metrics, free_slots, nezha_days,
                                       read_metric_tables)
from engine.synth.plan import PlannedFault, Skipped, SynthCase, SynthOptions, SynthResult, choose_services, plan_faults
from engine.synth.spans import SpanRow
from engine.synth.trace_faults import ActiveFault
from engine.telemetry.readers import read_csv_rows

TELEMETRY = frozenset({"traces", "cpu", "memory", "latency", "errors"})
SEEN_IN_TRACES = {"network_delay", "network_loss", "exception", "return"}
INNER_LABELS = {"cpu_contention": "CpuUsageRate(%)", "cpu_consumed": "CpuUsageRate(%)",
                "memory_leak": "MemoryUsageRate(%)", "network_delay": "PodClientLatencyP90(s)",
                "network_loss": "PodClientLatencyP90(s)"}
INNER_LABEL_FILES = {"ts": "root_cause_ts.json", "ob": "root_cause_hipster.json"}
CASE_COLUMNS = ["case_id", "system", "date", "fault_list_key", "inject_time", "inject_timestamp", "inject_pod",
                "root_cause_service", "inject_type", "inner_service_label", "window_files", "parameters"]


def synthesize_nezha(root: Path, out: Path, options: SynthOptions, on_progress, workers: int = 1,
                     scheduler: str | None = None) -> SynthResult:
    result = SynthResult([], [], [])
    rows: list[dict[str, str]] = []
    inner: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    days = nezha_days(root, options.system)
    plans = [_plan_day(day, options, result.skipped) for day in days]  # every option checked before writing
    total = sum(len(planned) for planned in plans)
    for day, planned in zip(days, plans):
        result.sources.append(str(day.day_dir))
        result.window_notes += day.pool_choice.notes(day.date) if day.pool_choice else []
        result.window_notes += day.stress_notes()
        result.window_notes.append(f"{day.date}: backgrounds drawn from {', '.join(map(str, day.pool))}")
        _write_day(day, planned, out, options.seed, rows, inner[day.system_key], result, on_progress, total,
                   workers, scheduler)
    for key, labels in inner.items():
        write_json(out / "construct_data" / INNER_LABEL_FILES[key], labels)
    write_csv(out / "cases.csv", CASE_COLUMNS, rows)
    return result


def _plan_day(day: NezhaDay, options: SynthOptions, skipped: list[Skipped]) -> list[PlannedFault]:
    fault_types = parse_fault_types(options.faults, TELEMETRY, day.system)
    services = choose_services(options.services, sorted(day.pods), day.system)
    seed = options.seed * 1000 + sum(map(ord, day.date))
    planned = []
    traced = set(day.traced_services())
    for fault in plan_faults(services, fault_types, options.per_service, seed, day.system):
        if fault.fault_type in SEEN_IN_TRACES and fault.service not in traced:
            skipped.append(Skipped(day.system, fault.service, fault.fault_type,
                                   "called too rarely in the fault-free minutes for a trace or log fault to show"))
        else:
            planned.append(fault)
    return planned


def _write_day(day: NezhaDay, planned: list[PlannedFault], out: Path, seed: int, rows: list, inner: dict,
               result: SynthResult, on_progress, total: int, workers: int = 1, scheduler: str | None = None) -> None:
    """Each case's trace / log minutes are written by `_case_telemetry` (in parallel with `workers` > 1 or a Dask
    `scheduler`); its metric fault is then injected here, in plan order, into the day's shared metric tables with
    the case's own random stream where the telemetry left it, so every byte is the serial one."""
    slots = free_slots(day)
    source_tables = read_metric_tables(day)
    templates = ErrorTemplates(_all_log_rows(day)) if day.has_logs else None
    order = [day.pool[i] for i in np.random.default_rng(seed).permutation(len(day.pool))]
    for shift_days, placed in sorted(_place(planned, slots).items()):
        date = _shifted_date(day.date, shift_days)
        tables = {stem: _shifted_table(table, day.date, date, shift_days) for stem, table in source_tables.items()}
        metrics = day_metrics(day, tables)
        entries: dict[str, list[dict]] = defaultdict(list)
        job = partial(_case_telemetry, day, out / "rca_data" / date, 86400 * shift_days, order, templates, seed)
        for (slot, fault), (case, active, reach, rng) in zip(placed, ordered_map(job, placed, workers, scheduler)):
            inject_metrics(metrics, active, reach, rng)
            hour = time.strftime("%H", time.gmtime(case.onset))
            label = _inner_label(fault, templates)
            row = _case_row(day, case, date, f"{hour}[{len(entries[hour])}]", label)
            entries[hour].append({key: row[key] for key in ("inject_time", "inject_timestamp", "inject_pod", "inject_type")})
            rows.append(row)
            inner.setdefault(fault.service, {})[fault.fault_type] = label
            result.cases.append(case)
            on_progress(len(result.cases), total, case.case_id)
        for stem, table in tables.items():
            write_csv(out / "rca_data" / date / "metric" / f"{stem}.csv", table.header, table.rows)
        write_json(out / "rca_data" / date / f"{date}-fault_list.json", dict(entries))
        _write_reference(day, out / "construct_data" / date, 86400 * shift_days)


def _place(planned: list[PlannedFault], slots: list[int]) -> dict[int, list[tuple[int, PlannedFault]]]:
    """Day offset -> (slot, fault), in plan order, first free slot each; a service's next fault waits until its
    previous one is out of the metric baseline, so no case's "normal" holds a fault of its own service."""
    placed: dict[int, list[tuple[int, PlannedFault]]] = defaultdict(list)
    taken: set[int] = set()
    last_onset: dict[str, int] = {}
    for fault in planned:
        position = 0
        while position in taken or not _clear_of(last_onset.get(fault.service), _slot_time(position, slots)):
            position += 1
        taken.add(position)
        last_onset[fault.service] = _slot_time(position, slots)
        placed[position // len(slots)].append((slots[position % len(slots)], fault))
    return {days: sorted(faults, key=lambda pair: pair[0]) for days, faults in placed.items()}


def _clear_of(previous: int | None, minute: int) -> bool:
    return previous is None or minute - previous >= BASELINE_S + CASE_SPAN_S


def _slot_time(position: int, slots: list[int]) -> int:
    return slots[position % len(slots)] + 86400 * (position // len(slots))


def _case_telemetry(day: NezhaDay, out_day: Path, shift_s: int, order: list[BackgroundMinute],
                    templates: ErrorTemplates | None, seed: int,
                    placed: tuple[int, PlannedFault]) -> tuple[SynthCase, ActiveFault, Reach, np.random.Generator]:
    """One case's trace / log / traceid minute files; returns what its metric injection needs (the random stream
    as the telemetry left it). Touches nothing shared, so cases can run in any process."""
    slot, planned = placed
    minute = slot + shift_s
    timing = planned.rng(seed, "timing")
    onset = minute + float(timing.uniform(*ONSET_SECOND))
    onset = float(int(onset))  # Nezha's inject times are whole seconds
    fault = ActiveFault(planned.service, planned.fault_type, planned.parameters, int(onset * NS),
                        int((onset + planned.parameters["duration_s"]) * NS))
    rng = planned.rng(seed, "telemetry")
    window_spans: list[SpanRow] = []
    for step in range(3):  # the minute before the onset (left as it was), then the two window minutes
        target = minute + 60 * step
        background = order[(3 * planned.index + step) % len(order)]
        placement = Placement(out_day, _minute_name(target), (target - day.background_epoch(background)) * NS)
        spans, _ = write_minute(day.background(background), placement, fault if step else None, templates, rng)
        window_spans += spans if step else []
    reach = Reach(day.callers.get(planned.service, []), _front_share(window_spans, planned.service))
    case_id = f"{'tt' if day.system_key == 'ts' else 'ob'}-syn-{out_day.name}-{planned.index:03d}"
    case = SynthCase(case_id, day.system, planned.service, planned.fault_type, onset, planned.parameters)
    return case, fault, reach, rng


def _front_share(spans: list[SpanRow], service: str) -> float:
    """Share of traces that reach the service: how much of the front end's traffic its fault can touch."""
    traces = {span.row["TraceID"] for span in spans}
    reached = {span.row["TraceID"] for span in spans if span.service == service}
    return len(reached) / len(traces) if traces else 0.0


def _write_reference(day: NezhaDay, out_day: Path, shift_s: int) -> None:
    """The day's fault-free reference window, moved with the day."""
    for name in day.construct_minutes:
        placement = Placement(out_day, name, shift_s * NS, with_traceid=False)
        write_minute(day.reference.rows(name), placement, None, None, np.random.default_rng(0))


def _all_log_rows(day: NezhaDay) -> list[dict[str, str]]:
    files = sorted((day.day_dir / "log").glob("*_log.csv.gz"))
    files += sorted((day.root / "construct_data" / day.date / "log").glob("*_log.csv.gz"))
    return [row for path in files for row in read_csv_rows(path, ("PodName", "Log"))]


def _shifted_table(table: MetricTable, date: str, new_date: str, shift_days: int) -> MetricTable:
    rows = []
    for row in table.rows:
        moved = dict(row)
        for column in ("TimeStamp", "timestamp"):
            if column in moved:
                moved[column] = str(int(moved[column]) + 86400 * shift_days)
        for column in ("Time", "time"):
            if moved.get(column, "").startswith(date):
                moved[column] = new_date + moved[column][len(date):]
        rows.append(moved)
    return MetricTable(table.header, rows)


def _case_row(day: NezhaDay, case: SynthCase, date: str, key: str, label: str) -> dict[str, str]:
    minute = int(case.onset) // 60 * 60
    return {
        "case_id": case.case_id, "system": case.system, "date": date, "fault_list_key": key,
        "inject_time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(case.onset)),
        "inject_timestamp": str(int(case.onset)), "inject_pod": day.pods[case.service],
        "root_cause_service": case.service, "inject_type": case.fault_type, "inner_service_label": label,
        "window_files": ";".join(_minute_name(minute + 60 * step) for step in range(3)),
        "parameters": ";".join(f"{name}={value}" for name, value in sorted(case.parameters.items())),
    }


def _inner_label(fault: PlannedFault, templates: ErrorTemplates | None) -> str:
    if fault.fault_type in INNER_LABELS:
        return INNER_LABELS[fault.fault_type]
    return (templates.logger_of(fault.service) if templates else None) or "PodSuccessRate(%)"


def _minute_name(epoch: int) -> str:
    return time.strftime("%H_%M", time.gmtime(epoch))


def _shifted_date(date: str, days: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(calendar.timegm(time.strptime(date, "%Y-%m-%d")) + 86400 * days))

