"""Trace blame: in each trace, the deepest span that broke a habit of its operation is where the fault
sits; the spans above it only suffer from it (their anomaly has an anomalous span below). A call that left
its caller but was never served (a client span without the callee's span under it) is the callee's, unless the caller
lost calls into several services at once: then they were lost on the caller's own side."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Container

import numpy as np

from engine.telemetry.model import Incident
from engine.telemetry.profiles import Profile, SpanKind, called_service, minute_profile, window_profile
from engine.telemetry.signals import MIN_CALLS, Signal

HABIT = 0.9  # an event that follows an anchor at least this often in the reference is expected


def trace_blame_signal(incident: Incident) -> dict[str, Signal]:
    if not incident.spans or not incident.reference:
        return {}
    habits = _habits(incident)
    profile = window_profile(incident)
    unserved = _lost_on_callers_side(profile, _unserved_callees(incident))
    verdicts = [_culprit(kind, habits, unserved) for kind in profile.span_kinds]
    culprits = {span.span_id: culprit for span, kind in zip(incident.spans, profile.kind_of)
                if (culprit := verdicts[kind])}
    blamed = Counter(entity for s, entity in culprits.items() if not _broken_below(s, profile.children, culprits))
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


def _culprit(kind: SpanKind, habits: dict, unserved: dict[tuple[str, str], str]) -> str | None:
    """Who a span of this kind that broke a habit points at: its own service, or, for a call that left and was never
    served (a span without children whose operation always calls another service: `unserved`), the service that
    unserved call is blamed on. None for a span that kept its habits."""
    if kind.leaf and kind.anchors[0] in unserved:
        return unserved[kind.anchors[0]]
    for anchor in kind.anchors:
        habit = habits.get(anchor)
        if habit is None:
            continue
        expected, known_errors = habit
        if expected - kind.happened - {anchor[1]}:
            return anchor[0]
        if any(e.startswith("log:ERROR") and e not in known_errors for e in kind.happened):
            return anchor[0]
    return None


def _unserved_callees(incident: Incident) -> dict[tuple[str, str], str]:
    """Operations (client calls) that nearly always reached another service in the reference minutes, each with
    the service whose share of their calls fell most in the window: where such a call now reaches nobody, the
    request was lost on its way to that service or the service never served it."""
    usual: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    for minute in incident.reference:
        for anchor, (count, rates) in minute_profile(minute).anchors.items():
            if count >= MIN_CALLS:
                usual[anchor].append({e: r for e, r in rates.items() if e.startswith("call:")})
    found = {}
    for anchor, (count, rates) in window_profile(incident).anchors.items():
        minutes = usual.get(anchor, [])
        if count < MIN_CALLS or not minutes or np.median([sum(calls.values()) for calls in minutes]) < HABIT:
            continue
        events = {e for calls in minutes for e in calls}
        fall = {e: float(np.median([calls.get(e, 0.0) for calls in minutes])) - rates.get(e, 0.0) for e in events}
        event = max(sorted(fall), key=fall.get)
        if fall[event] > 0:
            found[anchor] = called_service(event)
    return found


def _lost_on_callers_side(profile: Profile, callees: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """Who each unserved call is blamed on: its callee (`callees`), or its caller where that caller's calls now go
    unserved into several services, at least MIN_CALLS into each. A network fault at a service loses what every
    caller sends into it; one at a caller loses what it sends to anyone (as wait_signal reads a caller that waits
    longer on several services as slow on its own side)."""
    lost: Counter[tuple[str, str]] = Counter()
    for index, spans in Counter(profile.kind_of).items():
        kind = profile.span_kinds[index]
        if kind.leaf and (anchor := kind.anchors[0]) in callees:
            lost[(anchor[0], callees[anchor])] += spans
    reached: dict[str, set[str]] = defaultdict(set)
    for (caller, callee), count in lost.items():
        if count >= MIN_CALLS:
            reached[caller].add(callee)
    return {anchor: anchor[0] if len(reached[anchor[0]]) > 1 else callee for anchor, callee in callees.items()}


def _broken_below(span_id: str, children: dict[str, list[str]], broken: Container[str]) -> bool:
    stack = list(children.get(span_id, ()))
    while stack:
        current = stack.pop()
        if current in broken:
            return True
        stack.extend(children.get(current, ()))
    return False
