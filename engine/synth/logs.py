"""Nezha container log rows: moved in time with their spans, and ERROR lines written for failing spans.

An ERROR line is a real line of the same system: one the failing service itself printed somewhere in the
source day, else the framework's uncaught-exception line that several of its services print. Nothing in
a line says it was made here.
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
    """ERROR log rows of the source, per service, and the framework lines shared by several services."""

    def __init__(self, rows: list[dict[str, str]]):
        self.by_service: dict[str, list[dict[str, str]]] = defaultdict(list)
        seen: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            level, message = parse_log_message(row["Log"])
            if level == "ERROR":
                service = service_of(row["PodName"])
                self.by_service[service].append(row)
                seen[log_template(message)].add(service)
        shared = {template for template, services in seen.items() if len(services) > 1}
        self.shared = [row for service in sorted(self.by_service) for row in self.by_service[service]
                       if log_template(parse_log_message(row["Log"])[1]) in shared]

    def pick(self, service: str, rng: np.random.Generator) -> dict[str, str] | None:
        own = self.by_service.get(service) or self.shared
        return own[int(rng.integers(len(own)))] if own else None

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
    """Logs of dropped spans go, logs of moved spans move, and each failing span prints an ERROR line."""
    kept = []
    for row in rows:
        span_id = row.get("SpanID", "")
        if span_id in edits.dropped:
            continue
        shift = edits.shifted_ns.get(span_id, 0)
        kept.append(moved_row(row, shift, {}) if shift else row)
    kept.extend(row for span in edits.failing if (row := _error_row(span, templates, rng)) is not None)
    return sorted(kept, key=lambda row: int(row["TimeUnixNano"]))


def _error_row(span: SpanRow, templates: ErrorTemplates, rng: np.random.Generator) -> dict[str, str] | None:
    template = templates.pick(span.service, rng)
    if template is None:
        return None
    at_ns = span.end_ns - int(rng.uniform(0.2, 3.0) * 1e6)
    ids = {template["TraceID"]: span.row["TraceID"], template["SpanID"]: span.span_id}
    row = moved_row(template, at_ns - int(template["TimeUnixNano"]), ids)
    return {**row, "PodName": span.row["PodName"]}
