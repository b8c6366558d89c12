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
from engine.telemetry.spans import EdgeCalls, RequestShape, edge_calls, failed_span_ids, own_times, request_shapes

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


def statement_of(template: str) -> str:
    """The code location (`Class#line`) of a Java log line, else the whole template."""
    match = STATEMENT.search(template)
    return match.group(0) if match else template


def span_events(spans: list[Span], logs: list[LogRecord]) -> dict[str, set[str]]:
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
    return events


def called_service(event: str) -> str | None:
    """The service a call event (``call:<service> <operation>``, written by :func:`span_events`) went to; None for
    any other event."""
    return event.split(" ", 1)[0][len("call:"):] if event.startswith("call:") else None


def span_anchors(span: Span, by_id: dict[str, Span], happened: set[str]) -> list[tuple[str, str]]:
    parent = by_id.get(span.parent_id)
    context = parent.operation if parent is not None and parent.entity == span.entity else ""
    logged = sorted(e for e in happened if e.startswith("log:")) if happened else []
    return [(span.entity, f"{context} > {span.operation}")] + [(span.entity, e) for e in logged]


def profile_of(spans: list[Span] | tuple[Span, ...], logs: list[LogRecord] | tuple[LogRecord, ...]) -> Profile:
    spans = list(spans)
    events = span_events(spans, list(logs))
    by_id = {span.span_id: span for span in spans}
    parents = {span.parent_id for span in spans if span.parent_id}
    counts: Counter[tuple[str, str]] = Counter()
    seen: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    kinds: dict[SpanKind, int] = {}
    kind_of = []
    for span in spans:
        happened = events.get(span.span_id, NOTHING)
        anchors = span_anchors(span, by_id, happened)
        for anchor in anchors:
            counts[anchor] += 1
            if happened:  # most spans do nothing besides their own work
                seen[anchor].update(happened - {anchor[1]})
        kind_of.append(kinds.setdefault(SpanKind(tuple(anchors), frozenset(happened), span.span_id not in parents),
                                        len(kinds)))
    anchor_rates = {anchor: (n, {e: c / n for e, c in seen[anchor].items()}) for anchor, n in counts.items()}
    own = own_times(spans)
    return Profile(anchor_rates, own, {key: float(np.median(times)) for key, times in own.items()},
                   request_shapes(spans), list(kinds), kind_of)


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
