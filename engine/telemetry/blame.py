"""Trace blame: in each trace, the deepest span that broke a habit of its operation is where the fault
sits; the spans above it only suffer from it (their anomaly has an anomalous span below)."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from engine.telemetry.model import Incident, Span
from engine.telemetry.profiles import minute_profile, span_anchors, window_events
from engine.telemetry.signals import MIN_CALLS, Signal

HABIT = 0.9  # an event that follows an anchor at least this often in the reference is expected


def trace_blame_signal(incident: Incident) -> dict[str, Signal]:
    if not incident.spans or not incident.reference:
        return {}
    habits = _habits(incident)
    events = window_events(incident)
    by_id = {span.span_id: span for span in incident.spans}
    broken = {span.span_id for span in incident.spans if _breaks_habit(span, by_id, events, habits)}
    children: dict[str, list[str]] = defaultdict(list)
    for span in incident.spans:
        if span.parent_id:
            children[span.parent_id].append(span.span_id)
    entity_of = {span.span_id: span.entity for span in incident.spans}
    blamed = Counter(entity_of[s] for s in broken if not _broken_below(s, children, broken))
    minutes = incident.window_trace_minutes or 1.0
    return {
        entity: Signal(
            float(np.log1p(count / minutes)),
            {"deepest_anomalous_spans_per_min": count / minutes},
            f"{count / minutes:.1f} spans/min are the deepest anomalous span of their trace",
        )
        for entity, count in blamed.items()
        if count >= MIN_CALLS
    }


def _habits(incident: Incident) -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """anchor -> (events expected after it, error events ever seen after it). An event is expected when
    most reference minutes that saw the anchor often enough show it after the anchor nearly always: a
    reference minute still touched by an earlier fault is outvoted."""
    votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    voters: Counter[tuple[str, str]] = Counter()
    errors: dict[tuple[str, str], set[str]] = defaultdict(set)
    for minute in incident.reference:
        for anchor, (count, rates) in minute_profile(minute).anchors.items():
            errors[anchor].update(e for e in rates if e.startswith("log:ERROR"))
            if count >= MIN_CALLS:
                voters[anchor] += 1
                votes[anchor].update(e for e, rate in rates.items() if rate >= HABIT)
    return {
        anchor: ({e for e, v in votes[anchor].items() if v > n / 2}, errors[anchor]) for anchor, n in voters.items()
    }


def _breaks_habit(span: Span, by_id: dict[str, Span], events: dict[str, set[str]], habits: dict) -> bool:
    happened = events.get(span.span_id, set())
    for anchor in span_anchors(span, by_id, happened):
        habit = habits.get(anchor)
        if habit is None:
            continue
        expected, known_errors = habit
        if expected - happened - {anchor[1]}:
            return True
        if any(e.startswith("log:ERROR") and e not in known_errors for e in happened):
            return True
    return False


def _broken_below(span_id: str, children: dict[str, list[str]], broken: set[str]) -> bool:
    stack = list(children.get(span_id, ()))
    while stack:
        current = stack.pop()
        if current in broken:
            return True
        stack.extend(children.get(current, ()))
    return False
