"""Application log files: JSON lines or plain text lines that start with a timestamp.

PATH is one file or a folder of them (`*.log`, `*.jsonl`, `*.json`, `*.txt`, each optionally `.gz`). A line
names its service (JSON: `service`, `service.name`, `service_name`, `app`; text: `service=NAME`); where it
does not, the file is one service's and its name (up to the first dot) is the service. Times without a zone
are UTC. A line without a timestamp is an error naming the file and line: the analysis cannot place it.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path

from engine.telemetry.errors import TelemetryError
from engine.telemetry.model import LogRecord
from engine.telemetry.nezha_files import LEVEL, log_template, normal_level
from engine.telemetry.readers import parse_timestamp

LOG_SUFFIXES = (".log", ".jsonl", ".json", ".txt")
TIME_KEYS = ("time", "timestamp", "ts", "@timestamp", "time_unix_nano", "timeUnixNano")
SERVICE_KEYS = ("service", "service.name", "service_name", "app")
LEVEL_KEYS = ("level", "severity", "severity_text", "severityText", "levelname", "lvl")
MESSAGE_KEYS = ("message", "msg", "body", "log", "event")
SPAN_KEYS = ("span_id", "spanId", "span.id")
LEADING_TIMESTAMP = re.compile(r"^\s*\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\]?\s*")
TEXT_FIELD = re.compile(r"\b(service|span_id)=([\w.\-]+)")


def read_log_files(path: Path) -> list[LogRecord]:
    files = _log_files(path)
    records = [record for file in files for record in _read_file(file)]
    return sorted(records, key=lambda record: record.time)


def _log_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise TelemetryError(f"{path}: no such log file or folder")
    files = sorted(p for p in path.iterdir() if p.is_file() and _log_suffix(p) in LOG_SUFFIXES)
    if not files:
        raise TelemetryError(f"{path}: no log files; expected {', '.join('*' + s for s in LOG_SUFFIXES)} (or .gz)")
    return files


def _log_suffix(path: Path) -> str:
    suffixes = path.suffixes[:-1] if path.suffix == ".gz" else path.suffixes
    return suffixes[-1] if suffixes else ""


def _read_file(path: Path) -> list[LogRecord]:
    file_service = path.name.split(".", 1)[0]
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            return [_record(f"{path}:{number}", line.rstrip("\n"), file_service)
                    for number, line in enumerate(handle, start=1) if line.strip()]
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise TelemetryError(f"{path}: cannot read the log file ({exc})") from exc


def _record(where: str, line: str, file_service: str) -> LogRecord:
    if line.lstrip().startswith("{"):
        return _json_record(where, line, file_service)
    return _text_record(where, line, file_service)


def _json_record(where: str, line: str, file_service: str) -> LogRecord:
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TelemetryError(f"{where}: not a complete JSON object ({exc.msg}); expected one JSON log entry per line") from None
    stamp = _first(entry, TIME_KEYS)
    if stamp is None:
        raise TelemetryError(f"{where}: no timestamp; expected one of the fields {', '.join(TIME_KEYS)}")
    message = str(_first(entry, MESSAGE_KEYS) or "")
    return LogRecord(time=_time(where, stamp), entity=str(_first(entry, SERVICE_KEYS) or file_service),
                     span_id=str(_first(entry, SPAN_KEYS) or ""),
                     level=normal_level(str(_first(entry, LEVEL_KEYS) or "")), template=log_template(message))


def _text_record(where: str, line: str, file_service: str) -> LogRecord:
    stamp = LEADING_TIMESTAMP.match(line)
    if stamp is None:
        raise TelemetryError(f"{where}: no timestamp at the start of the line; expected ISO 8601 such as "
                             f"2024-05-01T12:00:00Z, got {line[:40]!r}")
    message = line[stamp.end():]
    fields = dict(TEXT_FIELD.findall(message))
    level = LEVEL.search(message[:80])
    return LogRecord(time=_time(where, stamp.group(1)), entity=fields.get("service", file_service),
                     span_id=fields.get("span_id", ""), level=normal_level(level.group(1) if level else ""),
                     template=log_template(TEXT_FIELD.sub("", message)))


def _first(entry: dict, keys: tuple[str, ...]):
    return next((entry[key] for key in keys if entry.get(key) not in (None, "")), None)


def _time(where: str, stamp: object) -> float:
    try:
        return parse_timestamp(stamp)
    except (TypeError, ValueError):
        raise TelemetryError(f"{where}: timestamp {str(stamp)[:40]!r} is neither ISO 8601 nor an epoch number") from None
