"""A minute of Nezha trace rows as mutable spans, and the one edit every trace fault is made of."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from engine.telemetry.nezha_files import service_of

ROOT_PARENT = "root"


@dataclass(slots=True)
class SpanRow:
    row: dict[str, str]  # every column as read; timing columns are rewritten from the fields below on output
    service: str
    start_ns: int
    end_ns: int
    duration_us: int

    @property
    def span_id(self) -> str:
        return self.row["SpanID"]

    @property
    def parent_id(self) -> str:
        return self.row["ParentID"]

    def as_row(self) -> dict[str, str]:
        timing = {"StartTimeUnixNano": str(self.start_ns), "EndTimeUnixNano": str(self.end_ns),
                  "Duration": str(self.duration_us)}
        return {**self.row, **timing}


def span_row(row: dict[str, str]) -> SpanRow:
    start = int(row["StartTimeUnixNano"])
    duration = int(row["Duration"])
    end = int(row["EndTimeUnixNano"]) if row.get("EndTimeUnixNano") else start + duration * 1000
    return SpanRow(row, service_of(row["PodName"]), start, end, duration)


@dataclass
class TraceEdits:
    """What the trace faults did, for the logs and the checks: moved spans, removed spans, spans that fail."""

    shifted_ns: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    dropped: set[str] = field(default_factory=set)
    failing: list[SpanRow] = field(default_factory=list)  # each logs an ERROR line of its own service
    uncaught: list[SpanRow] = field(default_factory=list)  # each logs the framework's uncaught-exception line
    stopped_ns: dict[str, int] = field(default_factory=dict)  # span id -> when its handling stopped: no line after
    thrown: dict[str, str] = field(default_factory=dict)  # span id -> its request, which threw at its last own line


class TraceIndex:
    """Spans of one minute grouped by trace, with parent / child lookups (ids are unique within a minute)."""

    def __init__(self, spans: list[SpanRow]):
        self.spans = spans
        self.by_id = {span.span_id: span for span in spans}
        self.children: dict[str, list[SpanRow]] = defaultdict(list)
        self.by_trace: dict[str, list[SpanRow]] = defaultdict(list)
        for span in spans:
            self.children[span.parent_id].append(span)
            self.by_trace[span.row["TraceID"]].append(span)

    def parent(self, span: SpanRow) -> SpanRow | None:
        return self.by_id.get(span.parent_id)

    def ancestors(self, span: SpanRow) -> list[SpanRow]:
        chain, current = [], self.parent(span)
        while current is not None:
            chain.append(current)
            current = self.parent(current)
        return chain

    def subtree(self, span: SpanRow) -> list[SpanRow]:
        found, stack = [], [span]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(self.children.get(current.span_id, ()))
        return found

    def local_root(self, span: SpanRow) -> SpanRow:
        """The outermost span of the same service above `span`: where that service received the request."""
        parent = self.parent(span)
        while parent is not None and parent.service == span.service:
            span, parent = parent, self.parent(parent)
        return span

    def entry_spans(self, service: str) -> list[SpanRow]:
        """Spans where `service` receives a request: its spans whose parent is another service (or none)."""
        return [span for span in self.spans if span.service == service and _is_entry(self, span)]

    def insert_pause(self, anchor: SpanRow, at_ns: int, delay_ns: int, edits: TraceEdits) -> None:
        """Time stands still (or, for a negative delay, is skipped) at `at_ns` on the path through `anchor`:
        the anchor and its ancestors last longer, and every other span of the trace starting later moves."""
        blocked = {anchor.span_id, *(span.span_id for span in self.ancestors(anchor))}
        for span in self.by_trace[anchor.row["TraceID"]]:
            if span.span_id in blocked:
                span.end_ns += delay_ns
                span.duration_us = max(span.duration_us + delay_ns // 1000, 0)
            elif span.start_ns >= at_ns:
                span.start_ns += delay_ns
                span.end_ns += delay_ns
                edits.shifted_ns[span.span_id] += delay_ns

    def drop(self, spans: list[SpanRow], edits: TraceEdits) -> None:
        edits.dropped.update(span.span_id for span in spans)


def _is_entry(index: TraceIndex, span: SpanRow) -> bool:
    parent = index.parent(span)
    return parent is None or parent.service != span.service
