"""Summaries of a set of spans and logs that several signals share, computed once per minute of data.

An anchor is an operation in its calling context (`parent op > op`) or a log statement; a profile says,
per anchor, how often each event (another log statement, a call to another service) happens in the
same span, how much own time each operation takes, and the shape of the requests each service received.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from functools import lru_cache
from weakref import WeakKeyDictionary

import numpy as np

from engine.telemetry.model import Incident, LogRecord, ReferenceMinute, Span
from engine.telemetry.spans import (
    EdgeCalls,
    RequestShape,
    edge_calls,
    failed_span_ids,
    own_times,
    request_shapes,
    self_contained,
)

STATEMENT = re.compile(r"[\w.$\[\]]+#\d+")
NOTHING: frozenset[str] = frozenset()

AnchorRates = dict[tuple[str, str], tuple[int, dict[str, float]]]  # (entity, anchor) -> (spans, event -> share)


@dataclass(frozen=True)
class SpanKind:
    """What a span looks like to trace blame; most spans share their kind with many others."""

    anchors: tuple[tuple[str, str], ...]  # span_anchors: its entity first, in every pair
    happened: frozenset[str]  # span_events: its log statements and calls out
    leaf: bool  # no span of the set runs under it


@dataclass(frozen=True)
class Profile:
    anchors: AnchorRates
    own_time: dict[tuple[str, str], list[float]]  # (entity, operation) -> own milliseconds per span
    own_median: dict[tuple[str, str], float]  # (entity, operation) -> median own milliseconds
    requests: dict[tuple[str, str], RequestShape]  # (entity, operation it received requests through) -> shape
    span_kinds: list[SpanKind]  # the distinct kinds of span, in order of first appearance
    kind_of: list[int]  # per span, in the order given: its index in span_kinds
    children: dict[str, list[str]]  # span id -> the ids of the spans whose parent it is, in span order


@lru_cache(maxsize=4096)
def statement_of(template: str) -> str:
    """The code location (`Class#line`) of a Java log line, else the whole template."""
    match = STATEMENT.search(template)
    return match.group(0) if match else template


def span_events(spans: list[Span], logs: list[LogRecord]) -> dict[str, frozenset[str]]:
    """What happened inside each span: its log statements and the calls it made to other services."""
    by_id = {span.span_id: span for span in spans}
    events: dict[str, set[str]] = defaultdict(set)
    for record in logs:
        if record.span_id in by_id:
            events[record.span_id].add(f"log:{record.level} {statement_of(record.template)}")
    for span in spans:
        parent = by_id.get(span.parent_id)
        if parent is not None and parent.entity != span.entity:
            events[parent.span_id].add(f"call:{span.entity} {span.operation}")
    return {span_id: frozenset(happened) for span_id, happened in events.items()}


def called_service(event: str) -> str | None:
    """The service a call event (``call:<service> <operation>``, written by :func:`span_events`) went to; None for
    any other event."""
    return event.split(" ", 1)[0][len("call:"):] if event.startswith("call:") else None


def profile_of(spans: list[Span] | tuple[Span, ...], logs: list[LogRecord] | tuple[LogRecord, ...]) -> Profile:
    spans = list(spans)
    events = span_events(spans, list(logs))
    by_id = {span.span_id: span for span in spans}
    children = _children(spans)
    kinds: dict[tuple[str, str, frozenset[str], bool], int] = {}  # what makes a SpanKind -> its index
    kind_of = []
    for span in spans:
        parent = by_id.get(span.parent_id)
        context = parent.operation if parent is not None and parent.entity == span.entity else ""
        key = (span.entity, f"{context} > {span.operation}", events.get(span.span_id, NOTHING),
               span.span_id not in children)
        kind_of.append(kinds.setdefault(key, len(kinds)))
    span_kinds = [SpanKind(_anchors(entity, operation, happened), happened, leaf)
                  for entity, operation, happened, leaf in kinds]
    own = own_times(spans)
    return Profile(_anchor_rates(span_kinds, kind_of), own, {key: float(np.median(times)) for key, times in own.items()},
                   request_shapes(spans), span_kinds, kind_of, children)


def _children(spans: list[Span]) -> dict[str, list[str]]:
    children: dict[str, list[str]] = defaultdict(list)
    for span in spans:
        if span.parent_id:
            children[span.parent_id].append(span.span_id)
    return dict(children)


def _anchors(entity: str, operation: str, happened: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """A span's anchors: its operation in its calling context (`parent op > op`), then its log statements."""
    return ((entity, operation), *((entity, event) for event in sorted(e for e in happened if e.startswith("log:"))))


def _anchor_rates(span_kinds: list[SpanKind], kind_of: list[int]) -> AnchorRates:
    """Per anchor, in order of first appearance: its spans, and the share of them in which each other event
    happened (tallied per kind of span, times the spans of that kind)."""
    counts: Counter[tuple[str, str]] = Counter()
    seen: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for index, spans in Counter(kind_of).items():  # kinds in order of first appearance
        kind = span_kinds[index]
        for anchor in kind.anchors:
            counts[anchor] += spans
            if kind.happened:  # most spans do nothing besides their own work
                tally = seen[anchor]
                for event in kind.happened - {anchor[1]}:
                    tally[event] += spans
    return {anchor: (n, {e: c / n for e, c in seen[anchor].items()}) for anchor, n in counts.items()}


@lru_cache(maxsize=64)
def minute_profile(minute: ReferenceMinute) -> Profile:
    """Cached per reference minute (loaders reuse one object per minute file, so days share the work)."""
    return profile_of(minute.spans, minute.logs)


_STANDING_IN: WeakKeyDictionary[Incident, ReferenceMinute] = WeakKeyDictionary()  # replay -> the minute in its window


def minute_as_window(incident: Incident, minute: ReferenceMinute) -> Incident:
    """`incident` replayed with the fault-free `minute` as its window and its other reference minutes as its
    reference (how the noise floors score a minute where all was well); the replay's window profile is the
    minute's own, computed once per minute however many cases and replays read it."""
    replay = replace(incident, spans=list(minute.spans), logs=list(minute.logs), window_trace_minutes=1.0,
                     reference=[other for other in incident.reference if other is not minute])
    _STANDING_IN[replay] = minute
    return replay


def window_profile(incident: Incident) -> Profile:
    minute = _STANDING_IN.get(incident)
    return minute_profile(minute) if minute is not None else _incident_profile(incident)


@lru_cache(maxsize=4)
def _incident_profile(incident: Incident) -> Profile:
    return profile_of(incident.spans, incident.logs)


@lru_cache(maxsize=4)
def window_edge_calls(incident: Incident) -> dict[tuple[str, str], EdgeCalls]:
    return edge_calls(incident.spans, failed_span_ids(incident.spans, incident.logs))


@dataclass(frozen=True)
class MinuteCalls:
    """A reference minute's calls between services (edge_calls, failures from its own ERROR lines), with what
    tells whether minutes pool without crossing (spans.self_contained)."""

    edges: dict[tuple[str, str], EdgeCalls]
    ids: frozenset[str]
    named_outside: frozenset[str]  # span ids its spans' parents and its ERROR lines name that are none of its spans


@lru_cache(maxsize=64)
def minute_calls(minute: ReferenceMinute) -> MinuteCalls:
    """Cached per reference minute, as minute_profile."""
    spans = list(minute.spans)
    ids = frozenset(span.span_id for span in spans)
    named = {span.parent_id for span in spans if span.parent_id}
    named.update(record.span_id for record in minute.logs if record.level == "ERROR")
    return MinuteCalls(edge_calls(spans, failed_span_ids(spans, minute.logs)), ids, frozenset(named - ids))


def reference_edge_calls(reference: list[ReferenceMinute]) -> dict[tuple[str, str], EdgeCalls]:
    """edge_calls of the reference minutes' spans pooled, failures from their logs pooled: joined from each minute's
    own calls where no minute names another's span, else counted over the pool."""
    each = [minute_calls(minute) for minute in reference]
    if not self_contained([(calls.ids, calls.named_outside) for calls in each]):
        spans = [span for minute in reference for span in minute.spans]
        return edge_calls(spans, failed_span_ids(spans, [record for minute in reference for record in minute.logs]))
    joined: dict[tuple[str, str], EdgeCalls] = {}
    for calls in each:
        for edge, found in calls.edges.items():
            into = joined.setdefault(edge, EdgeCalls([]))
            into.durations_ms.extend(found.durations_ms)
            into.waits_ms.extend(found.waits_ms)
            into.failed += found.failed
    return joined
