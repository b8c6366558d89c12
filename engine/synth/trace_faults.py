"""Each fault type as edits on one minute of spans; callers see a callee's fault through the trace tree.

Only spans that start between the onset and the end of the fault change; everything before stays as recorded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from engine.synth.spans import SpanRow, TraceEdits, TraceIndex

MS = 1_000_000  # ns
TIMEOUT_RETRANSMITS = 3  # a call that loses its packets waits out RTO, 2 RTO, 4 RTO before it gives up


@dataclass(frozen=True)
class ActiveFault:
    service: str
    fault_type: str
    parameters: dict[str, float]
    onset_ns: int
    end_ns: int

    def active(self, span: SpanRow, edits: TraceEdits) -> bool:
        return self.onset_ns <= span.start_ns < self.end_ns and span.span_id not in edits.dropped


def inject_traces(spans: list[SpanRow], fault: ActiveFault, rng: np.random.Generator) -> TraceEdits:
    index, edits = TraceIndex(spans), TraceEdits()
    EDITORS[fault.fault_type](index, fault, rng, edits)
    return edits


def _network_calls(index: TraceIndex, fault: ActiveFault, edits: TraceEdits) -> list[tuple[SpanRow, SpanRow]]:
    """(caller span, callee span) pairs on the faulty pod's network: calls into it, or, for an entry service
    that no traced service calls, the calls it makes (the same interface carries both directions)."""
    incoming = [(index.parent(span), span) for span in index.entry_spans(fault.service) if index.parent(span)]
    if not any(parent.service != fault.service for parent, _ in incoming):
        incoming = [(index.parent(span), span) for span in index.spans
                    if index.parent(span) and index.parent(span).service == fault.service != span.service]
    return [(caller, callee) for caller, callee in incoming if fault.active(callee, edits)]


def _delay(index: TraceIndex, fault: ActiveFault, rng: np.random.Generator, edits: TraceEdits) -> None:
    """Every call into the service waits the delay, as in the real Online Boutique network delays (2022-08-23: the
    calls into the root waited 100 to 552 ms more at the median, and already 89 to 538 ms at the 5th percentile)."""
    for caller, callee in _network_calls(index, fault, edits):
        delay = fault.parameters["delay_ms"] * rng.uniform(0.85, 1.15)
        index.insert_pause(caller, callee.start_ns, int(delay * MS), edits)


def _loss(index: TraceIndex, fault: ActiveFault, rng: np.random.Generator, edits: TraceEdits) -> None:
    """Packet loss on the faulty pod's interface (netem, as Chaos Mesh and ChaosBlade inject it): each packet of a
    call is lost with probability `loss`, and so is each retransmission of it. TCP resends after one RTO, doubling
    it every time (Linux: at least 200 ms), so a call that lost its packet m times in a row waits (2^m - 1) RTO; after
    TIMEOUT_RETRANSMITS losses in a row the caller gives up: the call is never served and fails after 7 RTO."""
    rto_ns = int(fault.parameters["rto_ms"] * MS)
    for caller, callee in _network_calls(index, fault, edits):
        lost = losses_in_a_row(fault.parameters["loss"], rng)
        if lost == TIMEOUT_RETRANSMITS:
            timeout = rto_ns * (2**TIMEOUT_RETRANSMITS - 1)
            index.drop(index.subtree(callee), edits)
            index.insert_pause(caller, callee.start_ns, timeout - (callee.end_ns - callee.start_ns), edits)
            edits.failing.append(caller)
        elif lost:
            index.insert_pause(caller, callee.start_ns, rto_ns * (2**lost - 1), edits)


def losses_in_a_row(loss: float, rng: np.random.Generator) -> int:
    """How many times in a row a call's packet is lost (its first send, then each retransmit), up to giving up."""
    lost = 0
    while lost < TIMEOUT_RETRANSMITS and rng.random() < loss:
        lost += 1
    return lost


def loss_effect(loss: float) -> tuple[float, float]:
    """(mean RTOs a call waits, share of calls that fail) under `loss`, the expectation of _loss's draws."""
    waits = sum(loss**lost * (1 - loss) * (2**lost - 1) for lost in range(1, TIMEOUT_RETRANSMITS))
    failed = loss**TIMEOUT_RETRANSMITS
    return waits + failed * (2**TIMEOUT_RETRANSMITS - 1), failed


def _slowdown(index: TraceIndex, fault: ActiveFault, rng: np.random.Generator, edits: TraceEdits) -> None:
    """CPU or memory pressure: the service's own work (not its waits on others) takes longer."""
    for span in index.entry_spans(fault.service):
        if not fault.active(span, edits):
            continue
        waited = sum(child.end_ns - child.start_ns for child in index.subtree(span)[1:]
                     if child.service != fault.service and index.parent(child).service == fault.service)
        own = max(span.end_ns - span.start_ns - waited, 0)
        extra = own * (fault.parameters["slowdown"] - 1.0) * rng.uniform(0.7, 1.3)
        index.insert_pause(span, span.end_ns, int(extra), edits)


def _exception(index: TraceIndex, fault: ActiveFault, rng: np.random.Generator, edits: TraceEdits) -> None:
    """A share `error_rate` of the requests through the service's busiest operation throw at their last log
    statement: their spans and calls stay, that line (and any after it) never happens, and the service logs no ERROR
    about it. As in the real Train-Ticket exceptions (2023-01-29: own spans per request .98 to 1.03 of their level at
    basic, travel2, route, price; in 12 of the 13 one statement of the root's requests fell silent, its last or only
    one: travel #457, travel2 #372, route #53, price #46, each at 0 of its level in 10 of them; no extra ERROR line).
    In a share `caller_stops` of them the error reaches the caller, which stops its own handling there and now and
    then logs the framework's line, as in the real Online Boutique exception with traces (productcatalogservice,
    2022-08-23 15:04: its callers' requests ran .29 and .46 of their usual spans, each now ending right after the
    failed call, its own spans whole); the real Train-Ticket callers went on (their spans per call into the root .99
    to 1.29 of their level)."""
    entries = [span for span in index.entry_spans(fault.service) if fault.active(span, edits)]
    busiest = _busiest_operation(entries)
    for span in entries:
        if (span.row["OperationName"] != busiest or not fault.active(span, edits)
                or rng.random() >= fault.parameters["error_rate"]):
            continue
        edits.thrown.update((inner.span_id, span.span_id) for inner in index.subtree(span)
                            if inner.service == span.service)
        caller = index.parent(span)
        if caller is not None and rng.random() < fault.parameters["caller_stops"]:
            _caller_stops(index, span, caller, fault, rng, edits)


def _busiest_operation(entries: list[SpanRow]) -> str | None:
    operations = Counter(span.row["OperationName"] for span in entries)
    return operations.most_common(1)[0][0] if operations else None


def _wrong_return(index: TraceIndex, fault: ActiveFault, rng: np.random.Generator, edits: TraceEdits) -> None:
    """The service answers in its usual time but with a wrong (empty, failed) value, and logs one of its own ERROR
    lines for it, as the real Train-Ticket returns do; the caller stops its own handling there and now and then
    logs its framework line. A service no traced caller waits on (the front door) answers its user early instead:
    the rest of its own handling never happens, as in the real Online Boutique frontend return (2022-08-23 12:11:
    54% of its requests made no call, normally 7%; their median time fell from 123 to .5 ms)."""
    for span in index.entry_spans(fault.service):
        if not fault.active(span, edits) or rng.random() >= fault.parameters["wrong_rate"]:
            continue
        edits.failing.append(span)
        caller = index.parent(span)
        if caller is not None:
            _caller_stops(index, span, caller, fault, rng, edits)
        else:
            _cut_short(index, span, _stop_point(span, fault, rng), edits)


def _caller_stops(index: TraceIndex, span: SpanRow, caller: SpanRow, fault: ActiveFault, rng: np.random.Generator,
                  edits: TraceEdits) -> None:
    """The caller's handling of its request ends with the failed answer of `span`; now and then it logs the
    framework's line for it."""
    _cut_short(index, index.local_root(caller), span.end_ns, edits)
    if rng.random() < fault.parameters["caller_logs"]:
        edits.uncaught.append(caller)


def _stop_point(span: SpanRow, fault: ActiveFault, rng: np.random.Generator) -> int:
    """`kept_share` of the way through the request (give or take a fifth)."""
    kept = fault.parameters["kept_share"] * rng.uniform(0.8, 1.2)
    return span.start_ns + int((span.end_ns - span.start_ns) * kept)


def _cut_short(index: TraceIndex, span: SpanRow, at_ns: int, edits: TraceEdits) -> None:
    """`span` ends at `at_ns`: the calls and steps it would have started later never happen (with all under them;
    a call already sent is served in full, so no client span is left without its server span), its service's
    spans under way log nothing more (a service logs from its inner spans too), and the time saved comes off its
    ancestors."""
    under = index.subtree(span)
    never = {inner.span_id for first in under[1:] if index.parent(first).service == span.service
             and _started(index, span, first) >= at_ns for inner in index.subtree(first)}
    at_ns = max([at_ns, *(inner.start_ns + 1 for inner in under[1:] if inner.span_id not in never)])
    saved = span.end_ns - at_ns
    if saved <= 0:
        return
    edits.stopped_ns.update((inner.span_id, at_ns) for inner in under
                            if inner.service == span.service and inner.start_ns < at_ns)
    index.drop([inner for inner in under if inner.span_id in never], edits)
    index.insert_pause(span, at_ns, -saved, edits)


def _started(index: TraceIndex, handler: SpanRow, inner: SpanRow) -> int:
    """When the handler's service started `inner`: a call into another service was sent when the handler's client
    span for it began (its server span opens a little later), else when `inner` began."""
    parent = index.parent(inner)
    is_client = parent is not handler and parent.service == handler.service != inner.service and all(
        child.service != handler.service for child in index.children.get(parent.span_id, ()))
    return parent.start_ns if is_client else inner.start_ns


EDITORS = {
    "network_delay": _delay,
    "network_loss": _loss,
    "cpu_contention": _slowdown,
    "cpu_consumed": _slowdown,
    "memory_leak": _slowdown,
    "exception": _exception,
    "return": _wrong_return,
}
