"""Parsing of Nezha's per-pod metric CSVs and per-minute trace / log files (cached per file)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.telemetry.errors import TelemetryError
from engine.telemetry.model import LogRecord, MetricSeries, Span
from engine.telemetry.parsed_cache import cached_records
from engine.telemetry.readers import count_missing, read_csv_rows, row_number, to_number, to_sample

TRACE_COLUMNS = ("TraceID", "SpanID", "ParentID", "PodName", "OperationName", "StartTimeUnixNano", "Duration")
LOG_COLUMNS = ("TimeUnixNano", "PodName", "SpanID", "Log")
ENTITY_COLUMNS = ("PodName", "ServiceName")  # per-pod files / the front-end SLI file
POD_SUFFIX = re.compile(r"-[a-z0-9]{5,10}-[a-z0-9]{5}$")


@lru_cache(maxsize=4096)  # a day's files name a few hundred pods, each on thousands of rows
def service_of(pod: str) -> str:
    """`ts-contacts-service-866bd68c97-xcqfx` -> `ts-contacts-service` (deployment hash + pod hash removed)."""
    return POD_SUFFIX.sub("", pod)


def load_metric_file(path: Path) -> MetricSeries:
    stat = path.stat()
    return _metric_file_cached(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _metric_file_cached(path_text: str, _mtime: int, _size: int) -> MetricSeries:
    path = Path(path_text)
    rows = read_csv_rows(path, ("TimeStamp",))
    if not rows:
        raise TelemetryError(f"{path}: no metric rows; expected one row per minute")
    entity_column = next((name for name in ENTITY_COLUMNS if name in rows[0]), None)
    if entity_column is None:
        raise TelemetryError(f"{path}: missing column PodName (or ServiceName); expected Nezha metric columns")
    names = [name for name in rows[0] if name not in ("Time", "TimeStamp", *ENTITY_COLUMNS)]
    times, values = _numeric_columns(path, rows, "TimeStamp", names)
    return MetricSeries(service_of(rows[0][entity_column]), times, values, count_missing(values))


def load_edge_table(path: Path) -> MetricSeries:
    """OB's source_50.csv: `time,timestamp,<caller>_<callee>,...` -> one series per edge column."""
    rows = read_csv_rows(path, ("timestamp",))
    if not rows:
        raise TelemetryError(f"{path}: no rows; expected one row per minute of edge latencies")
    names = [name for name in rows[0] if name not in ("time", "timestamp")]
    times, values = _numeric_columns(path, rows, "timestamp", names)
    return MetricSeries(path.stem, times, values, count_missing(values))


def _numeric_columns(path: Path, rows: list[dict[str, str]], time_column: str, names: list[str]):
    """Finite timestamps; samples that are numbers or missing (see `to_sample`), each error naming its row."""
    times = np.array([to_number(path, row_number(i), time_column, row[time_column]) for i, row in enumerate(rows)])
    values = {
        name: np.array([to_sample(path, row_number(i), name, row[name]) for i, row in enumerate(rows)])
        for name in names
    }
    return times, values


def load_spans(path: Path) -> tuple[Span, ...]:
    stat = path.stat()
    return _spans_cached(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=12)
def _spans_cached(path_text: str, mtime: int, size: int) -> tuple[Span, ...]:
    return cached_records(Path(path_text), Span, _parse_spans, mtime, size)


def _parse_spans(path: Path) -> tuple[Span, ...]:
    spans = []
    for index, row in enumerate(read_csv_rows(path, TRACE_COLUMNS)):
        parent = row["ParentID"]
        spans.append(
            Span(
                trace_id=row["TraceID"],
                span_id=row["SpanID"],
                parent_id="" if parent == "root" else parent,
                entity=service_of(row["PodName"]),
                operation=row["OperationName"],
                start=to_number(path, row_number(index), "StartTimeUnixNano", row["StartTimeUnixNano"]) / 1e9,
                duration_ms=to_number(path, row_number(index), "Duration", row["Duration"]) / 1000.0,
            )
        )
    return tuple(spans)


def load_logs(path: Path) -> tuple[LogRecord, ...]:
    stat = path.stat()
    return _logs_cached(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=12)
def _logs_cached(path_text: str, mtime: int, size: int) -> tuple[LogRecord, ...]:
    return cached_records(Path(path_text), LogRecord, _parse_logs, mtime, size)


def _parse_logs(path: Path) -> tuple[LogRecord, ...]:
    records = []
    for index, row in enumerate(read_csv_rows(path, LOG_COLUMNS)):
        level, message = parse_log_message(row["Log"])
        records.append(
            LogRecord(
                time=to_number(path, row_number(index), "TimeUnixNano", row["TimeUnixNano"]) / 1e9,
                entity=service_of(row["PodName"]),
                span_id=row["SpanID"],
                level=level,
                template=log_template(message),
            )
        )
    return tuple(records)


LEVEL = re.compile(r"\b(ERROR|FATAL|SEVERE|WARN(?:ING)?|INFO|DEBUG|TRACE)\b", re.IGNORECASE)
LEADING_TIME = re.compile(r"^\s*\[?\d{1,4}[-:/]\d{2}[-:/T \d.:,+Z]*\]?\s*")
IDS_IN_TEXT = re.compile(r"TraceID:\s*\w+\s*SpanID:\s*\w+\s*")
UUID_OR_HEX = re.compile(r"\b[0-9a-f]{8}-[0-9a-f-]{27}\b|\b[0-9a-f]{16,}\b", re.IGNORECASE)
NUMBER = re.compile(r"(?<![#\w])\d+(?:\.\d+)?")  # keeps "Class#123": the line number identifies the statement


def parse_log_message(raw: str) -> tuple[str, str]:
    """Level and message text of one docker JSON log line (OB nests a second JSON with message/severity)."""
    try:
        text = json.loads(raw).get("log", raw)
    except (json.JSONDecodeError, AttributeError):
        text = raw
    text = text.strip()
    if text.startswith("{"):
        try:
            inner = json.loads(text)
            return normal_level(str(inner.get("severity", ""))), str(inner.get("message", text))
        except (json.JSONDecodeError, AttributeError):
            pass
    match = LEVEL.search(text[:80])
    return normal_level(match.group(1) if match else ""), text


def normal_level(level: str) -> str:
    level = level.upper()
    if level in ("ERROR", "FATAL", "SEVERE"):
        return "ERROR"
    if level.startswith("WARN"):
        return "WARN"
    return level if level in ("INFO", "DEBUG", "TRACE") else "OTHER"


def log_template(message: str) -> str:
    text = LEADING_TIME.sub("", message)
    text = IDS_IN_TEXT.sub("", text)
    text = UUID_OR_HEX.sub("<id>", text)
    text = NUMBER.sub("<n>", text)
    return " ".join(text.split())[:120]
