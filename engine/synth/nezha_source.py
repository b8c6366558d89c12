"""What a Nezha source day offers the generator: its pods, its metric tables, the fault-free trace minutes
(the reference window and the minutes before real alerts that
the previous real fault has left, see nezha_pool) and the stretches of the day free of real faults, those its fault
list names and the CPU stresses it does not (unlisted_stresses)."""

from __future__ import annotations

import calendar
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path

import numpy as np

from engine.synth.errors import SynthError
from engine.synth.metric_faults import DayMetrics, MetricTable, cell_number
from engine.synth.nezha_minutes import NS, BackgroundMinute, MinuteSource
from engine.synth.nezha_pool import PoolChoice, RealFault, choose_pool, clear_of_faults, levels, minute_label
from engine.synth.spans import TraceIndex, span_row
from engine.telemetry.nezha_files import service_of
from engine.telemetry.readers import read_csv_rows, read_json

SYSTEM_NAMES = {"ts": "TrainTicket", "ob": "OnlineBoutique"}
SYSTEM_ALIASES = {"tt": "ts", "ts": "ts", "trainticket": "ts", "train-ticket": "ts", "ob": "ob",
                  "onlineboutique": "ob", "online-boutique": "ob"}
REAL_FAULT_REACH_S = (60, 600)  # a real fault's telemetry is avoided from 1 min before to 10 min after it
BASELINE_S = 32 * 60  # the loader's metric baseline (30 min, ending a minute before the alert) and a margin
CASE_SPAN_S = 6 * 60  # injection minute, the two window minutes and the rest of the fault
SPACING_S = 9 * 60  # like the source days: an alert every eight to nine minutes
EDGE_TABLES = ("source_50", "destination_50")
MIN_CALLS_PER_MINUTE = 3  # a service called less often than this shows no trace or log fault
# A pod's CPU stress: its CpuUsageRate(%) STRESS_RISE points or more above the day's median for STRESS_SAMPLES samples
# in a row. Each of the 19 real dev CPU faults took its root there for 3 to 6 minutes (from a usual .4 to 51 % to 78
# to 101 %); a busy pod's one-minute peaks (Online Boutique's currencyservice, usually at 51 %, now and then 77 %) are
# not stresses
STRESS_RISE = 30.0
STRESS_SAMPLES = 2
STRESS_COLUMN = "CpuUsageRate(%)"


@dataclass
class NezhaDay:
    root: Path
    date: str
    system_key: str
    pods: dict[str, str]  # service -> pod name
    fault_times: list[float]  # the fault list's onsets
    pool: list[BackgroundMinute]  # the fault-free alert minutes (nezha_pool), then the reference window's minutes
    construct_minutes: list[str]
    minutes: MinuteSource  # the fault day's minute files (rca_data/<date>)
    reference: MinuteSource  # the day's fault-free reference window (construct_data/<date>)
    callers: dict[str, list[str]] = field(default_factory=dict)
    calls_per_minute: dict[str, float] = field(default_factory=dict)
    has_logs: bool = False
    pool_choice: PoolChoice | None = None
    stresses: list[tuple[str, float]] = field(default_factory=list)  # (service, onset) the fault list does not name

    def stress_notes(self) -> list[str]:
        return [f"{self.date}: avoided like a real fault: {service} CPU stress at "
                f"{time.strftime('%H:%M', time.gmtime(onset))} (not in the fault list)"
                for service, onset in self.stresses]

    @property
    def day_dir(self) -> Path:
        return self.root / "rca_data" / self.date

    @property
    def system(self) -> str:
        return SYSTEM_NAMES[self.system_key]

    def minute_epoch(self, name: str) -> int:
        return calendar.timegm(time.strptime(f"{self.date} {name}", "%Y-%m-%d %H_%M"))

    def background(self, minute: BackgroundMinute) -> tuple[list[dict[str, str]], list[dict[str, str]] | None]:
        """(trace rows, log rows or None) of a pool minute."""
        if minute.reference:
            return self.reference.slice(minute.name, minute.offset_s)
        return self.minutes.rows(minute.name)

    def background_epoch(self, minute: BackgroundMinute) -> int:
        """The minute a pool minute's rows are timed against (placing it elsewhere shifts them by the difference)."""
        return self.minute_epoch(minute.name) + minute.offset_s

    def traced_services(self) -> list[str]:
        return sorted(s for s, calls in self.calls_per_minute.items() if calls >= MIN_CALLS_PER_MINUTE and s in self.pods)


def nezha_days(root: Path, system: str | None) -> list[NezhaDay]:
    wanted = _system_key(system) if system else None
    days = [_day(root, path, wanted) for path in sorted((root / "rca_data").iterdir()) if path.is_dir()]
    days = [day for day in days if day is not None]
    if not days:
        raise SynthError(f"{root}: no Nezha day{' of ' + system if system else ''} with metrics and "
                         "fault-free trace minutes under rca_data/")
    return days


def _system_key(system: str) -> str:
    key = SYSTEM_ALIASES.get(system.lower())
    if key is None:
        raise SynthError(f"unknown system {system!r} for a Nezha folder; expected OB (OnlineBoutique) or TT (TrainTicket)")
    return key


def _day(root: Path, day_dir: Path, wanted: str | None) -> NezhaDay | None:
    pods = {service_of(path.name[: -len("_metric.csv")]): path.name[: -len("_metric.csv")]
            for path in sorted((day_dir / "metric").glob("*_metric.csv"))}
    fault_file = day_dir / f"{day_dir.name}-fault_list.json"
    if not pods or not fault_file.exists():
        return None
    faults = real_faults(fault_file)
    alert_minutes = sorted({minute_label(fault.onset_s) for fault in faults})
    alert_minutes = [name for name in alert_minutes if (day_dir / "trace" / f"{name}_trace.csv.gz").exists()]
    construct = sorted(path.name[:5] for path in (root / "construct_data" / day_dir.name / "trace").glob("*_trace.csv.gz"))
    key = "ts" if any(service.startswith("ts-") for service in pods) else "ob"
    if not alert_minutes or not construct or wanted not in (None, key):
        return None
    reference = MinuteSource(root / "construct_data" / day_dir.name)
    choice = _fault_free_minutes(day_dir, reference, construct[0], alert_minutes, faults)
    if not choice.kept:
        raise SynthError(f"{day_dir}: no alert minute is {choice.recovery_s // 60} min (the day's recovery time) "
                         "clear of the previous real fault")
    pool = [BackgroundMinute(name) for name in choice.kept] + _reference_minutes(reference, construct, faults, choice)
    day = NezhaDay(root, day_dir.name, key, pods, [fault.onset_s for fault in faults], pool, construct,
                   MinuteSource(day_dir, choice.cutoff_ns), reference, pool_choice=choice,
                   stresses=unlisted_stresses(day_dir, pods, faults))
    _learn_calls(day)
    return day


def _reference_minutes(reference: MinuteSource, names: list[str], faults: list[RealFault],
                       choice: PoolChoice) -> list[BackgroundMinute]:
    """The reference window cut into minutes, each kept when it is as clear of real faults as a kept alert minute;
    the others are noted in `choice.excluded`."""
    kept = []
    for minute in (BackgroundMinute(name, True, 60 * k) for name in names for k in range(reference.whole_minutes(name))):
        starts = [int(row["StartTimeUnixNano"]) / NS for row in reference.slice(minute.name, minute.offset_s)[0]]
        if starts and clear_of_faults(min(starts), max(starts), faults, choice.recovery_s):
            kept.append(minute)
        else:
            choice.excluded[str(minute)] = f"within {choice.recovery_s // 60} min after a real fault, or holds one"
    return kept


def _fault_free_minutes(day_dir: Path, reference: MinuteSource, reference_minute: str, alert_minutes: list[str],
                        faults: list[RealFault]) -> PoolChoice:
    whole = MinuteSource(day_dir)
    candidates = {name: levels(whole, name) for name in alert_minutes}
    return choose_pool(candidates, levels(reference, reference_minute), faults)


def real_faults(fault_file: Path) -> list[RealFault]:
    listing = read_json(fault_file)
    try:
        return sorted((RealFault(float(calendar.timegm(time.strptime(entry["inject_time"], "%Y-%m-%d %H:%M:%S"))),
                                 service_of(entry["inject_pod"]))
                       for entries in listing.values() for entry in entries), key=lambda fault: fault.onset_s)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise SynthError(f"{fault_file}: expected hour -> list of "
                         "{inject_time 'YYYY-MM-DD HH:MM:SS', inject_pod, ...}") from exc


def _learn_calls(day: NezhaDay) -> None:
    """Who calls whom, and how often each service is called, over the fault-free minutes."""
    callers: dict[str, set[str]] = {}
    calls: Counter[str] = Counter()
    for minute in day.pool:
        traces, logs = day.background(minute)
        index = TraceIndex([span_row(row) for row in traces])
        for span in index.spans:
            parent = index.parent(span)
            if parent is None or parent.service != span.service:
                calls[span.service] += 1
            if parent is not None and parent.service != span.service:
                callers.setdefault(span.service, set()).add(parent.service)
        day.has_logs |= logs is not None
    dependency = day.day_dir / "metric" / "dependency.csv"
    for row in read_csv_rows(dependency, ("Source", "Target")) if dependency.exists() else ():
        callers.setdefault(row["Target"], set()).add(row["Source"])
    day.callers = {service: sorted(found) for service, found in callers.items()}
    day.calls_per_minute = {service: count / len(day.pool) for service, count in calls.items()}


def unlisted_stresses(day_dir: Path, pods: dict[str, str], faults: list[RealFault]) -> list[tuple[str, float]]:
    """(service, onset) of each pod CPU stress (STRESS_RISE, STRESS_SAMPLES) that no listed fault of the service
    explains (its onset within REAL_FAULT_REACH_S of one): real faults the fault list leaves out (the dev days hold
    nine, Train-Ticket's ts-route-service and ts-user-service twice each after its last listed fault), which a case's
    window or metric baseline must not hold either."""
    found = []
    for service, pod in sorted(pods.items()):
        listed = [fault.onset_s for fault in faults if fault.service == service]
        for onset in _stress_onsets(day_dir / "metric" / f"{pod}_metric.csv"):
            if not any(-REAL_FAULT_REACH_S[0] <= onset - t <= REAL_FAULT_REACH_S[1] for t in listed):
                found.append((service, onset))
    return found


def _stress_onsets(metric_file: Path) -> list[float]:
    rows = read_csv_rows(metric_file, ("TimeStamp",))
    if not rows or STRESS_COLUMN not in rows[0]:
        return []
    rates = np.array([cell_number(row[STRESS_COLUMN]) for row in rows])
    if not np.isfinite(rates).any():
        return []
    stressed = rates >= np.nanmedian(rates) + STRESS_RISE
    samples = [(bool(hot), float(row["TimeStamp"])) for hot, row in zip(stressed, rows)]
    return [run[0][1] for hot, group in groupby(samples, key=itemgetter(0))
            if hot and len(run := list(group)) >= STRESS_SAMPLES]


def free_slots(day: NezhaDay) -> list[int]:
    """Minute starts where a case (its metric baseline, window and fault) touches no real fault, listed or not."""
    first, last = _metric_span(day)
    onsets = day.fault_times + [onset for _, onset in day.stresses]
    blocked = [(t - REAL_FAULT_REACH_S[0], t + REAL_FAULT_REACH_S[1]) for t in onsets]
    slots, minute = [], int(first + BASELINE_S) // 60 * 60 + 60
    while minute + CASE_SPAN_S <= last:
        start, end = minute - BASELINE_S, minute + CASE_SPAN_S
        if all(end <= low or start >= high for low, high in blocked):
            slots.append(minute)
            minute += SPACING_S
        else:
            minute += 60
    if not slots:
        raise SynthError(f"{day.day_dir}: no stretch of {(BASELINE_S + CASE_SPAN_S) // 60} fault-free minutes")
    return slots


def _metric_span(day: NezhaDay) -> tuple[float, float]:
    pod_file = day.day_dir / "metric" / f"{next(iter(day.pods.values()))}_metric.csv"
    times = [float(row["TimeStamp"]) for row in read_csv_rows(pod_file, ("TimeStamp",))]
    return min(times), max(times)


def read_metric_tables(day: NezhaDay) -> dict[str, MetricTable]:
    """Every metric CSV of the day by file stem."""
    tables = {}
    for path in sorted((day.day_dir / "metric").glob("*.csv")):
        rows = read_csv_rows(path, ())
        header = list(rows[0]) if rows else []
        tables[path.stem] = MetricTable(header, rows)
    return tables


def day_metrics(day: NezhaDay, tables: dict[str, MetricTable]) -> DayMetrics:
    return DayMetrics(
        pods={service: tables[f"{pod}_metric"] for service, pod in day.pods.items()},
        front=tables.get("front_service"),
        edges={name: tables[name] for name in EDGE_TABLES if name in tables},
    )
