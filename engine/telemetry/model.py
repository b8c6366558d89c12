"""Plain data for one incident: what the agents and the ranking read.

Nothing here reads files or computes; loaders build these, `analysis` reads them.
Times are UTC epoch seconds (floats) unless a field says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np


@dataclass(frozen=True, slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root span
    entity: str  # the service that emitted the span
    operation: str
    start: float  # epoch seconds
    duration_ms: float


@dataclass(frozen=True, slots=True)
class LogRecord:
    time: float
    entity: str
    span_id: str
    level: str  # ERROR, WARN, INFO, DEBUG or OTHER
    template: str  # message with ids and numbers masked; "Class#line" kept


@dataclass(frozen=True, eq=False)  # identity semantics: derived summaries are cached per object
class ReferenceMinute:
    """Spans and logs of one fault-free minute (a reference window or the minute before an alert)."""

    name: str
    spans: tuple[Span, ...] = ()
    logs: tuple[LogRecord, ...] = ()


@dataclass
class MetricSeries:
    """One entity's metrics: a shared time axis and one float array per metric name (NaN = no sample).

    `missing` counts the NaN samples the loader kept as gaps (empty cells, NaN latency percentiles of a minute
    without requests), so they are reported rather than silently turned into numbers."""

    entity: str
    times: np.ndarray
    values: dict[str, np.ndarray]
    missing: int = 0

    def between(self, start: float, end: float) -> dict[str, np.ndarray]:
        mask = (self.times >= start) & (self.times < end)
        return {name: series[mask] for name, series in self.values.items()}


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    @property
    def minutes(self) -> float:
        return max((self.end - self.start) / 60.0, 1e-9)

    @property
    def metrics_end(self) -> float:
        """Where the window's metric samples end: a minute past its end, so the minute it ends in is read whole."""
        return self.end + 60.0


@dataclass(frozen=True)
class Alert:
    """What a monitoring system knew when it paged: where, which signal, when."""

    entity: str
    signal: str
    time: float
    description: str
    metric_family: str | None = None  # e.g. "latency", "availability": the kind of metric that fired


@dataclass(frozen=True)
class Label:
    """Ground truth, for scoring only: analysis never reads it."""

    root_cause: str
    fault_type: str | None = None
    path: tuple[str, ...] | None = None
    detail: str | None = None


@dataclass(frozen=True)
class CaseRef:
    case_id: str
    system: str
    dataset: str  # which loader: nezha, petshop, mabc
    summary: str


@dataclass(eq=False)  # identity semantics: derived summaries are cached per incident
class Incident:
    case_id: str
    system: str
    entities: list[str]
    topology: nx.DiGraph  # caller -> callee
    alert: Alert
    window: Window  # the fault-suffering period
    baseline: Window  # the fault-free reference period for metrics
    metrics: dict[str, MetricSeries] = field(default_factory=dict)
    # per call-graph edge (caller, callee): latency as the caller sees it, where the source measures it
    edge_metrics: dict[tuple[str, str], MetricSeries] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    window_trace_minutes: float = 0.0  # how many minutes `spans` / `logs` cover
    reference: list[ReferenceMinute] = field(default_factory=list)
    label: Label | None = None
    # entities that are only observed from outside (a caller's view of a remote endpoint): never a root cause
    observed_only: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # files read, for the record

    @property
    def baseline_spans(self) -> list[Span]:
        return [span for minute in self.reference for span in minute.spans]

    @property
    def baseline_logs(self) -> list[LogRecord]:
        return [record for minute in self.reference for record in minute.logs]

    @property
    def reference_trace_minutes(self) -> float:
        return float(sum(1 for minute in self.reference if minute.spans))

    @property
    def reference_log_minutes(self) -> float:
        return float(sum(1 for minute in self.reference if minute.logs))
