"""One minute file pair (trace + log) copied from a fault-free source minute to its place in the output,
with fresh ids, and with a fault's edits when the minute lies inside a fault."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.synth.files import remap_id, write_bytes, write_csv
from engine.synth.logs import ErrorTemplates, edited_logs, moved_row
from engine.synth.spans import SpanRow, TraceEdits, span_row
from engine.synth.trace_faults import ActiveFault, inject_traces
from engine.telemetry.readers import read_csv_rows

NS = 10**9


@dataclass
class MinuteSource:
    """Raw rows of a folder's minute files, read once however often a minute is reused."""

    folder: Path  # rca_data/<date> or construct_data/<date>
    cutoff_ns: dict[str, int] = field(default_factory=dict)  # minute -> its real alert's onset: later rows dropped
    _cache: dict[str, tuple[list[dict], list[dict] | None]] = field(default_factory=dict)

    def rows(self, name: str) -> tuple[list[dict[str, str]], list[dict[str, str]] | None]:
        if name not in self._cache:
            log_file = self.folder / "log" / f"{name}_log.csv.gz"
            traces = read_csv_rows(self.folder / "trace" / f"{name}_trace.csv.gz", ("TraceID",))
            logs = read_csv_rows(log_file, ("TimeUnixNano",)) if log_file.exists() else None
            cutoff = self.cutoff_ns.get(name)
            if cutoff is not None:
                traces = [row for row in traces if int(row["StartTimeUnixNano"]) < cutoff]
                logs = None if logs is None else [row for row in logs if int(row["TimeUnixNano"]) < cutoff]
            self._cache[name] = (traces, logs)
        return self._cache[name]


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


def write_minute(source: MinuteSource, source_name: str, placement: Placement, fault: ActiveFault | None,
                 templates: ErrorTemplates | None, rng: np.random.Generator) -> tuple[list[SpanRow], TraceEdits]:
    """Writes trace/, log/ and traceid/ files of the target minute; returns the spans as placed (before the
    fault's edits) and the edits."""
    trace_rows, log_rows = source.rows(source_name)
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
