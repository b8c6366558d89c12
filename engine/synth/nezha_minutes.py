"""One minute file pair (trace + log) copied from a fault-free source minute to its place in the output,
with fresh ids, and with a fault's edits when the minute lies inside a fault."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.synth.files import remap_id, write_bytes, write_csv
from engine.synth.logs import ErrorTemplates, edited_logs, moved_row
from engine.synth.spans import SpanRow, TraceEdits, span_row
from engine.synth.trace_faults import ActiveFault, inject_traces
from engine.telemetry.readers import read_csv_rows

NS = 10**9


@dataclass(frozen=True)
class MinuteSource:
    """The minute files of one folder; each file is parsed once per process (`_parsed`), however often it is
    reused or whoever reads it (the pool choice, the call counts, every case), and a copy of this for a worker
    process holds no rows."""

    folder: Path  # rca_data/<date> or construct_data/<date>
    cutoff_ns: dict[str, int] = field(default_factory=dict)  # minute -> its real alert's onset: later rows dropped

    def rows(self, name: str) -> tuple[list[dict[str, str]], list[dict[str, str]] | None]:
        traces, logs = _parsed(self.folder, name)
        cutoff = self.cutoff_ns.get(name)
        if cutoff is None:
            return traces, logs
        return ([row for row in traces if int(row["StartTimeUnixNano"]) < cutoff],
                None if logs is None else [row for row in logs if int(row["TimeUnixNano"]) < cutoff])

    def whole_minutes(self, name: str) -> int:
        """How many one-minute slices file `name` holds (at least one)."""
        starts = [int(row["StartTimeUnixNano"]) for row in self.rows(name)[0]]
        return max(1, (max(starts) - min(starts)) // (60 * NS)) if starts else 1

    def slice(self, name: str, offset_s: int) -> tuple[list[dict[str, str]], list[dict[str, str]] | None]:
        """The minute of file `name` that starts `offset_s` after its first span."""
        traces, logs = self.rows(name)
        low = min((int(row["StartTimeUnixNano"]) for row in traces), default=0) + offset_s * NS
        high = low + 60 * NS
        return ([row for row in traces if low <= int(row["StartTimeUnixNano"]) < high],
                None if logs is None else [row for row in logs if low <= int(row["TimeUnixNano"]) < high])


@lru_cache(maxsize=64)  # a day's alert minutes, its fault-free pool and its reference window
def _parsed(folder: Path, name: str) -> tuple[list[dict[str, str]], list[dict[str, str]] | None]:
    log_file = folder / "log" / f"{name}_log.csv.gz"
    traces = read_csv_rows(folder / "trace" / f"{name}_trace.csv.gz", ("TraceID",))
    return traces, read_csv_rows(log_file, ("TimeUnixNano",)) if log_file.exists() else None


@dataclass(frozen=True)
class BackgroundMinute:
    """A fault-free minute a case is drawn on: an alert-minute file of the fault day (whole), or a one-minute slice
    of the day's fault-free reference window (construct_data), `offset_s` after that file's first span."""

    name: str  # HH_MM of the source file
    reference: bool = False  # from construct_data/<date> rather than rca_data/<date>
    offset_s: int = 0

    def __str__(self) -> str:
        return f"construct {self.name}+{self.offset_s // 60}min" if self.reference else self.name


@dataclass(frozen=True)
class Placement:
    out_day: Path  # rca_data/<date> or construct_data/<date> in the output
    name: str  # HH_MM of the target minute file
    delta_ns: int  # target minute minus source minute
    with_traceid: bool = True  # the fault days list each minute's trace ids; the reference days do not

    @property
    def key(self) -> str:
        return f"{self.out_day.parent.name}/{self.out_day.name}/{self.name}"


def placed_spans(rows: list[dict[str, str]], placement: Placement) -> list[SpanRow]:
    spans, key = [], placement.key
    for row in rows:
        ids = {column: remap_id(row[column], key) for column in ("TraceID", "SpanID", "ParentID")}
        span = span_row({**row, **ids})
        span.start_ns += placement.delta_ns
        span.end_ns += placement.delta_ns
        spans.append(span)
    return spans


def placed_logs(rows: list[dict[str, str]], placement: Placement) -> list[dict[str, str]]:
    moved, key = [], placement.key
    for row in rows:
        ids = {old: remap_id(old, key) for old in (row.get("TraceID", ""), row.get("SpanID", "")) if old}
        moved.append(moved_row(row, placement.delta_ns, ids))
    return moved


def write_minute(rows: tuple[list[dict[str, str]], list[dict[str, str]] | None], placement: Placement,
                 fault: ActiveFault | None, templates: ErrorTemplates | None,
                 rng: np.random.Generator) -> tuple[list[SpanRow], TraceEdits]:
    """Writes trace/, log/ and traceid/ files of the target minute from a source minute's (traces, logs); returns
    the spans as placed (before the fault's edits) and the edits."""
    trace_rows, log_rows = rows
    spans = placed_spans(trace_rows, placement)
    before = [SpanRow(span.row, span.service, span.start_ns, span.end_ns, span.duration_us) for span in spans]
    edits = inject_traces(spans, fault, rng) if fault else TraceEdits()
    kept = [span for span in spans if span.span_id not in edits.dropped]
    header = list(trace_rows[0]) if trace_rows else ["TraceID", "SpanID", "ParentID", "PodName", "OperationName",
                                                     "StartTimeUnixNano", "EndTimeUnixNano", "Duration"]
    write_csv(placement.out_day / "trace" / f"{placement.name}_trace.csv.gz", header, [s.as_row() for s in kept])
    if placement.with_traceid:
        trace_ids = sorted({span.row["TraceID"] for span in kept})
        write_bytes(placement.out_day / "traceid" / f"{placement.name}_traceid.csv",
                    "".join(f"{trace_id}\n" for trace_id in trace_ids).encode())
    if log_rows is not None:
        logs = placed_logs(log_rows, placement)
        if fault and templates is not None:
            logs = edited_logs(logs, edits, templates, rng)
        write_csv(placement.out_day / "log" / f"{placement.name}_log.csv.gz", list(log_rows[0]) if log_rows else [], logs)
    return before, edits
