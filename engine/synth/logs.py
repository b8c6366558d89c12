"""Nezha container log rows: moved in time with their spans, cut with the handling that stopped, and ERROR lines
written for failing spans.

An ERROR line is a real line of the same system: for a service failing on its own terms, one of its own
application ERROR statements from the source day; for a call that came back failed, the framework's
uncaught-exception line that several of its services print. Nothing in a line says it was made here.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict

import numpy as np

from engine.synth.spans import SpanRow, TraceEdits
from engine.telemetry.nezha_files import log_template, parse_log_message, service_of

CLOCK = re.compile(r'^(\{"log":")(\d{2}):(\d{2}):(\d{2})\.(\d{3})')
JSON_TIME = re.compile(r'"time":"[^"]*"')
DAY_NS = 86_400 * 10**9


class ErrorTemplates:
    """ERROR log rows of the source, per service: its own application lines and its copies of the framework lines
    (those several services print), and every framework line."""

    def __init__(self, rows: list[dict[str, str]]):
        errors = []  # (service, template, row) of every ERROR row, each line parsed once
        for row in rows:
            level, message = parse_log_message(row["Log"])
            if level == "ERROR":
                errors.append((service_of(row["PodName"]), log_template(message), row))
        services_of: dict[str, set[str]] = defaultdict(set)
        for service, template, _ in errors:
            services_of[template].add(service)
        self.by_service: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.of_kind: dict[tuple[str, bool], list[dict[str, str]]] = defaultdict(list)  # (service, framework?)
        for service, template, row in sorted(errors, key=lambda error: error[0]):
            self.by_service[service].append(row)
            self.of_kind[service, len(services_of[template]) > 1].append(row)
        self.shared = [row for (_, framework), rows in self.of_kind.items() if framework for row in rows]

    def pick(self, service: str, rng: np.random.Generator, framework: bool = False) -> dict[str, str] | None:
        """One of the service's own application ERROR lines (else any of its own, else a framework line); with
        `framework`, the framework's line for a failed call (the service's own copy where it printed one)."""
        fallback = self.shared if framework else self.by_service.get(service) or self.shared
        rows = self.of_kind.get((service, framework)) or fallback
        return rows[int(rng.integers(len(rows)))] if rows else None

    def logger_of(self, service: str) -> str | None:
        """`Class#line` of the service's own ERROR statement, the inner-service label of a code fault."""
        rows = self.by_service.get(service)
        if not rows:
            return None
        words = Counter(_logger(parse_log_message(row["Log"])[1]) for row in rows)
        return words.most_common(1)[0][0]


def _logger(message: str) -> str:
    parts = message.split()
    return next((part for part in parts if "#" in part), parts[1] if len(parts) > 1 else message[:40])


def moved_row(row: dict[str, str], delta_ns: int, ids: dict[str, str]) -> dict[str, str]:
    """The row `delta_ns` later, with its trace / span ids replaced by `ids` (in the columns and the text)."""
    text = row["Log"]
    for old in (row.get("TraceID", ""), row.get("SpanID", "")):
        if old and old in ids:
            text = text.replace(old, ids[old])
    new_time = int(row["TimeUnixNano"]) + delta_ns
    text = CLOCK.sub(lambda match: _shifted_clock(match, delta_ns), text, count=1)
    text = JSON_TIME.sub(f'"time":"{iso_time(new_time)}"', text, count=1)
    return {**row, "Timestamp": iso_time(new_time), "TimeUnixNano": str(new_time), "Log": text,
            "TraceID": ids.get(row.get("TraceID", ""), row.get("TraceID", "")),
            "SpanID": ids.get(row.get("SpanID", ""), row.get("SpanID", ""))}


def iso_time(epoch_ns: int) -> str:
    seconds, fraction = divmod(epoch_ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def _shifted_clock(match: re.Match, delta_ns: int) -> str:
    hours, minutes, seconds, millis = (int(match.group(k)) for k in range(2, 6))
    total_ns = ((hours * 60 + minutes) * 60 + seconds) * 10**9 + millis * 10**6 + delta_ns
    ms = (total_ns % DAY_NS) // 10**6
    return f"{match.group(1)}{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def edited_logs(rows: list[dict[str, str]], edits: TraceEdits, templates: ErrorTemplates,
                rng: np.random.Generator) -> list[dict[str, str]]:
    """Logs of dropped spans go, and those a stopped handling would have written after it stopped (a request that
    threw stopped at its last own line); logs of moved spans move; each failing span prints one of its service's
    ERROR lines, each uncaught one the framework's."""
    stops, kept = _stops(rows, edits), []
    for row in rows:
        span_id = row.get("SpanID", "")
        if span_id in edits.dropped or _after_stop(row, stops.get(span_id)):
            continue
        shift = edits.shifted_ns.get(span_id, 0)
        kept.append(moved_row(row, shift, {}) if shift else row)
    for spans, framework in ((edits.failing, False), (edits.uncaught, True)):
        kept.extend(row for span in spans if (row := _error_row(span, templates, rng, framework)) is not None)
    return sorted(kept, key=lambda row: int(row["TimeUnixNano"]))


def _stops(rows: list[dict[str, str]], edits: TraceEdits) -> dict[str, int]:
    """Span id -> when its handling stopped: `edits.stopped_ns`, and for the spans of a request that threw
    (`edits.thrown`), just before the request's last own line."""
    last: dict[str, int] = {}
    for row in rows:
        if (request := edits.thrown.get(row.get("SpanID", ""))) is not None:
            last[request] = max(last.get(request, 0), int(row["TimeUnixNano"]))
    stops = dict(edits.stopped_ns)
    for span_id, request in edits.thrown.items():
        if request in last:
            stops[span_id] = min(stops.get(span_id, last[request]), last[request] - 1)
    return stops


def _after_stop(row: dict[str, str], stopped_ns: int | None) -> bool:
    return stopped_ns is not None and int(row["TimeUnixNano"]) > stopped_ns


def _error_row(span: SpanRow, templates: ErrorTemplates, rng: np.random.Generator,
               framework: bool) -> dict[str, str] | None:
    template = templates.pick(span.service, rng, framework)
    if template is None:
        return None
    at_ns = span.end_ns - int(rng.uniform(0.2, 3.0) * 1e6)
    ids = {template["TraceID"]: span.row["TraceID"], template["SpanID"]: span.span_id}
    row = moved_row(template, at_ns - int(template["TimeUnixNano"]), ids)
    return {**row, "PodName": span.row["PodName"]}
