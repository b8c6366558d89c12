"""OpenTelemetry traces as the Collector's file exporter writes them: one OTLP/JSON `ExportTraceServiceRequest`
per line (`.jsonl`, optionally gzipped).

A span's service is its resource's `service.name`. Span events become log records of that span (an
`exception` event, or an ERROR status without one, is an ERROR line): the analysis knows a call failed from
the error lines logged inside it.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

from engine.telemetry.errors import TelemetryError
from engine.telemetry.model import LogRecord, Span
from engine.telemetry.nezha_files import log_template

STATUS_ERROR = (2, "STATUS_CODE_ERROR")  # OTLP/JSON writes enums as integers; protobuf's JSON mapping as names
SCOPE_KEYS = ("scopeSpans", "instrumentationLibrarySpans")  # the second: OTLP before 0.15


@dataclass(frozen=True)
class OtlpTraces:
    spans: list[Span]
    logs: list[LogRecord]  # from span events and error statuses


def read_otlp_traces(path: Path) -> OtlpTraces:
    spans: list[Span] = []
    logs: list[LogRecord] = []
    for number, line in _numbered_lines(path):
        where = f"{path}:{number}"
        request = _json_line(where, line)
        for resource_spans in _list(where, request, "resourceSpans"):
            service = _service_name(where, resource_spans)
            for scope_spans in _scope_spans(resource_spans):
                for raw in _list(where, scope_spans, "spans"):
                    span = _span(where, raw, service)
                    spans.append(span)
                    logs.extend(_span_logs(where, raw, span))
    if not spans:
        raise TelemetryError(f"{path}: no spans; expected OTLP/JSON trace requests, one per line")
    return OtlpTraces(spans, logs)


def _numbered_lines(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise TelemetryError(f"{path}: cannot read the OTLP trace file ({exc})") from exc


def _json_line(where: str, line: str) -> dict:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TelemetryError(f"{where}: not a complete JSON object ({exc.msg} at column {exc.colno}); "
                             "expected one OTLP/JSON ExportTraceServiceRequest per line") from None
    if not isinstance(value, dict):
        raise TelemetryError(f"{where}: expected an object with 'resourceSpans'")
    return value


def _list(where: str, parent: dict, key: str) -> list:
    value = parent.get(key, [])
    if not isinstance(value, list):
        raise TelemetryError(f"{where}: '{key}' must be a list")
    return value


def _scope_spans(resource_spans: dict) -> list[dict]:
    return [scope for key in SCOPE_KEYS for scope in resource_spans.get(key, [])]


def _service_name(where: str, resource_spans: dict) -> str:
    attributes = attribute_map((resource_spans.get("resource") or {}).get("attributes", []))
    service = attributes.get("service.name")
    if not service:
        raise TelemetryError(f"{where}: a resource has no 'service.name' attribute; every span needs its service")
    return str(service)


def _span(where: str, raw: dict, service: str) -> Span:
    try:
        start = int(raw["startTimeUnixNano"])
        end = int(raw["endTimeUnixNano"])
        return Span(trace_id=str(raw["traceId"]), span_id=str(raw["spanId"]),
                    parent_id=str(raw.get("parentSpanId") or ""), entity=service, operation=str(raw["name"]),
                    start=start / 1e9, duration_ms=max(end - start, 0) / 1e6)
    except (KeyError, TypeError, ValueError) as exc:
        raise TelemetryError(f"{where}: span {raw.get('spanId', '?')!r} needs traceId, spanId, name, "
                             f"startTimeUnixNano and endTimeUnixNano ({type(exc).__name__}: {exc})") from None


def _span_logs(where: str, raw: dict, span: Span) -> list[LogRecord]:
    records = [_event_log(where, event, span) for event in raw.get("events") or []]
    status = raw.get("status") or {}
    if status.get("code") in STATUS_ERROR and not any(r.level == "ERROR" for r in records):
        message = f"span status ERROR: {status.get('message', '')}"
        records.append(LogRecord(span.start + span.duration_ms / 1000, span.entity, span.span_id, "ERROR",
                                 log_template(message)))
    return records


def _event_log(where: str, event: dict, span: Span) -> LogRecord:
    attributes = attribute_map(event.get("attributes", []))
    name = str(event.get("name", "event"))
    detail = ": ".join(str(attributes[key]) for key in ("exception.type", "exception.message") if key in attributes)
    try:
        time = int(event.get("timeUnixNano") or 0) / 1e9 or span.start
    except (TypeError, ValueError):
        raise TelemetryError(f"{where}: event {name!r} of span {span.span_id}: timeUnixNano must be an integer") from None
    level = "ERROR" if name == "exception" else "INFO"
    return LogRecord(time, span.entity, span.span_id, level, log_template(f"{name} {detail}".strip()))


def attribute_map(attributes: list) -> dict[str, object]:
    """OTLP `[{"key": k, "value": {"stringValue": v}}]` -> {k: v} (the first typed field of each value)."""
    found = {}
    for attribute in attributes or []:
        if isinstance(attribute, dict) and isinstance(attribute.get("value"), dict) and attribute["value"]:
            found[str(attribute.get("key"))] = next(iter(attribute["value"].values()))
    return found
