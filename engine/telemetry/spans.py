"""Span arithmetic shared by the edge statistics and the latency signal."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.telemetry.model import Span


WAIT = "wait:"  # operation prefix of a client span's own time charged to its callee: "wait:<caller> <operation>"


def own_times(spans: Sequence[Span]) -> dict[tuple[str, str], list[float]]:
    """Exclusive time of each span (duration minus its children's, at least 0), charged to who caused it, grouped
    by (entity, operation) in span order.

    A client span whose only children run in one other service is charged to that callee, under the operation
    `wait:<caller> <operation>`: the gap between the caller's wait and the callee's work is network and queueing at
    the callee's side.
    """
    child_time: dict[str, float] = {}
    below: dict[str, str | None] = {}  # parent span id -> the one service its children ran in (None: several)
    for span in spans:
        parent = span.parent_id
        if parent:
            child_time[parent] = child_time.get(parent, 0.0) + span.duration_ms
            entity = below.get(parent, span.entity)
            below[parent] = entity if entity == span.entity else None
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    for span in spans:
        own = span.duration_ms - child_time.get(span.span_id, 0.0)
        callee = below.get(span.span_id)
        key = (callee, f"{WAIT}{span.entity} {span.operation}") if callee is not None and callee != span.entity \
            else (span.entity, span.operation)
        grouped[key].append(0.0 if 0.0 > own else own)
    return dict(grouped)


@dataclass
class EdgeCalls:
    durations_ms: list[float]  # the callee's span of each call
    failed: int = 0
    waits_ms: list[float] = field(default_factory=list)  # the caller's span around each call: network included


def edge_calls(spans: list[Span], failed_spans: set[str]) -> dict[tuple[str, str], EdgeCalls]:
    """Calls per caller -> callee service edge, with the callee span's duration, the caller's wait and failures."""
    by_id = {span.span_id: span for span in spans}
    edges: dict[tuple[str, str], EdgeCalls] = {}
    for span in spans:
        parent = by_id.get(span.parent_id)
        if parent is None or parent.entity == span.entity:
            continue
        calls = edges.setdefault((parent.entity, span.entity), EdgeCalls([]))
        calls.durations_ms.append(span.duration_ms)
        calls.waits_ms.append(parent.duration_ms)
        calls.failed += span.span_id in failed_spans
    return edges


def failed_span_ids(spans: list[Span], logs) -> set[str]:
    """Spans that logged an ERROR line, themselves or through a span of the same service below them: the
    traces carry no status code, so this is how a call is known to have failed."""
    by_id = {span.span_id: span for span in spans}
    failed: set[str] = set()
    for record in logs:
        span = by_id.get(record.span_id) if record.level == "ERROR" else None
        while span is not None and span.span_id not in failed:
            failed.add(span.span_id)
            parent = by_id.get(span.parent_id)
            span = parent if parent is not None and parent.entity == span.entity else None
    return failed


def latency_summary(durations_ms: list[float]) -> dict[str, float]:
    if not durations_ms:
        return {"mean_ms": float("nan"), "p95_ms": float("nan")}
    values = np.asarray(durations_ms)
    return {"mean_ms": float(values.mean()), "p95_ms": float(np.percentile(values, 95))}


def span_edges(spans: list[Span]) -> set[tuple[str, str]]:
    """Caller -> callee service pairs: a span whose parent ran in another service."""
    entity_of = {span.span_id: span.entity for span in spans}
    return {
        (entity_of[span.parent_id], span.entity)
        for span in spans
        if span.parent_id in entity_of and entity_of[span.parent_id] != span.entity
    }


def self_contained(parts: Sequence[tuple[frozenset[str], frozenset[str]]]) -> bool:
    """Whether sets of spans, each given as (its span ids, the span ids it names that are none of its own), pool
    without crossing: no span id in two of them, and none names a span of another. Then a summary of the pool that
    follows parent links is the summaries of the parts joined."""
    ids = frozenset().union(*(own for own, _ in parts))
    return len(ids) == sum(len(own) for own, _ in parts) and all(named.isdisjoint(ids) for _, named in parts)


def entry_service(spans: list[Span]) -> str | None:
    """The service where most traces start (the one users call), None without root spans."""
    roots = Counter(span.entity for span in spans if not span.parent_id)
    return roots.most_common(1)[0][0] if roots else None


NO_CALL = ""  # a request that made no call to another service


@dataclass(frozen=True)
class RequestShape:
    """The requests a service received through one operation: how many, how many spans of its own each ran under
    it (its client calls, its inner steps), after which service's answer each one ended (its last call), and which
    services each one called."""

    count: int
    local_spans: float  # mean per request
    endings: dict[str, float]  # service of the last call (NO_CALL: none) -> share of the requests
    calls: dict[str, float] = field(default_factory=dict)  # service -> share of the requests that called it

    def ended_after(self, service: str) -> float:
        """Of the requests that called `service`, the share that ended after its answer (0 if none called it)."""
        called = self.calls.get(service, 0.0)
        return self.endings.get(service, 0.0) / called if called > 0 else 0.0


def request_shapes(spans: Sequence[Span]) -> dict[tuple[str, str], RequestShape]:
    """(entity, operation of the span where it received the request) -> RequestShape."""
    by_id = {span.span_id: span for span in spans}
    entry = _entry_spans(spans, by_id)
    local: Counter[str] = Counter()
    last_call: dict[str, tuple[float, str]] = {}  # request -> (end of its latest call, the service it called)
    called: dict[str, set[str]] = defaultdict(set)  # request -> the services it called
    for span in spans:
        request = entry[span.span_id]
        parent = by_id.get(span.parent_id)
        if request != span.span_id:
            local[request] += 1
        elif parent is not None:  # a call into this service, made by the caller's request
            caller_request = entry[parent.span_id]
            ended = parent.start + parent.duration_ms / 1000 if parent.span_id != caller_request else \
                span.start + span.duration_ms / 1000
            last_call[caller_request] = max(last_call.get(caller_request, (-1.0, NO_CALL)), (ended, span.entity))
            called[caller_request].add(span.entity)
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for span in spans:
        if entry[span.span_id] == span.span_id:
            grouped[(span.entity, span.operation)].append(span.span_id)
    return {key: RequestShape(len(ids), sum(local[i] for i in ids) / len(ids),
                              _shares(last_call.get(i, (0.0, NO_CALL))[1] for i in ids),
                              _shares((service for i in ids for service in called[i]), total=len(ids)))
            for key, ids in grouped.items()}


def _entry_spans(spans: Sequence[Span], by_id: dict[str, Span]) -> dict[str, str]:
    """Span id -> id of the span where its service received the request it serves (the outermost span of the
    same service above it, itself for such a span)."""
    entry: dict[str, str] = {}
    for span in spans:
        chain, current = [], span
        while current.span_id not in entry:
            parent = by_id.get(current.parent_id)
            if parent is None or parent.entity != current.entity:
                entry[current.span_id] = current.span_id
                break
            chain.append(current)
            current = parent
        for inner in chain:
            entry[inner.span_id] = entry[current.span_id]
    return entry


def _shares(values, total: int | None = None) -> dict[str, float]:
    """value -> how often it occurs, as a share of `total` (default: of all the values)."""
    counts = Counter(values)
    total = sum(counts.values()) if total is None else total
    return {value: count / total for value, count in counts.items()}
