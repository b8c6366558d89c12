"""An SRE's own telemetry as one Incident: OTLP traces, Prometheus metrics, log files and an alert.

The alert time splits the data: what came before it (up to `baseline_minutes`) is the fault-free reference,
what came after it (up to `window_minutes`) is the incident window. The alert is a given time, or the time
a Prometheus alerting rule became active; its entity is given, the rule's series label, or the service where
most traces start. Every input is read and checked before anything is stored.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from engine.telemetry.errors import TelemetryError
from engine.telemetry.logfiles import read_log_files
from engine.telemetry.model import Alert, Incident, LogRecord, MetricSeries, ReferenceMinute, Span, Window
from engine.telemetry.otel import read_otlp_traces
from engine.telemetry.prometheus import (
    QueryConfig,
    RuleActivation,
    alert_rule_activation,
    fetch_metrics,
    is_url,
    read_query_config,
    read_saved_metrics,
)
from engine.telemetry.readers import parse_timestamp
from engine.telemetry.spans import entry_service, span_edges

WINDOW_MINUTES = 5.0
BASELINE_MINUTES = 30.0
RULE_SEARCH_SECONDS = 3600.0  # how far back an alert rule is looked for when no trace or log gives a time range


@dataclass(frozen=True)
class OwnTelemetry:
    otel: Path | None = None
    prometheus: str | None = None  # a base URL or a saved query_range JSON file
    prometheus_queries: Path | None = None
    logs: Path | None = None
    alert_time: str | None = None  # ISO 8601 or epoch
    alert_entity: str | None = None
    alert_rules: Path | None = None  # a Prometheus rule file; the alert fires when its rule first held
    alert_rule: str | None = None  # which alerting rule of that file (default: the first)
    name: str | None = None
    window_minutes: float = WINDOW_MINUTES
    baseline_minutes: float = BASELINE_MINUTES

    @property
    def given(self) -> bool:
        return any((self.otel, self.prometheus, self.logs))


@dataclass
class _Records:
    spans: list[Span] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def time_range(self) -> tuple[float, float] | None:
        moments = [s.start for s in self.spans] + [s.start + s.duration_ms / 1000 for s in self.spans]
        moments += [r.time for r in self.logs]
        return (min(moments), max(moments)) if moments else None


def load_own_incident(inputs: OwnTelemetry) -> Incident:
    if not inputs.given:
        raise TelemetryError("no telemetry: give --otel FILE, --prometheus URL|FILE and/or --logs PATH")
    records = _read_records(inputs)
    config = read_query_config(inputs.prometheus_queries)
    activation = _rule_activation(inputs, config, records.time_range())
    alert_time = _alert_time(inputs, activation)
    window, baseline = _windows(inputs, alert_time, records.time_range())
    metrics = _metrics(inputs, config, baseline.start, window.metrics_end)
    if inputs.prometheus:
        records.sources.append(inputs.prometheus)
    return _incident(inputs, records, metrics, activation, alert_time, window, baseline)


def _read_records(inputs: OwnTelemetry) -> _Records:
    records = _Records()
    if inputs.otel:
        traces = read_otlp_traces(inputs.otel)
        records.spans, records.logs = traces.spans, list(traces.logs)
        records.sources.append(str(inputs.otel))
    if inputs.logs:
        records.logs = sorted(records.logs + read_log_files(inputs.logs), key=lambda r: r.time)
        records.sources.append(str(inputs.logs))
    return records


def _rule_activation(inputs: OwnTelemetry, config: QueryConfig, span: tuple[float, float] | None) -> RuleActivation | None:
    if inputs.alert_rules is None or inputs.alert_time:
        return None
    if not (inputs.prometheus and is_url(inputs.prometheus)):
        raise TelemetryError(f"{inputs.alert_rules}: an alert rule is evaluated on a live Prometheus: "
                             "give --prometheus URL (or --alert-time)")
    end = span[1] if span else time.time()
    start = (span[0] if span else end) - RULE_SEARCH_SECONDS
    return alert_rule_activation(inputs.prometheus, inputs.alert_rules, inputs.alert_rule, start, end, config)


def _alert_time(inputs: OwnTelemetry, activation: RuleActivation | None) -> float:
    if activation is not None:
        return activation.active_at
    if not inputs.alert_time:
        raise TelemetryError("no alert: give --alert-time (ISO 8601 or epoch) or --alert-rule RULES_FILE")
    try:
        return parse_timestamp(inputs.alert_time)
    except (TypeError, ValueError):
        raise TelemetryError(f"--alert-time {inputs.alert_time!r}: expected ISO 8601 "
                             "(2024-05-01T12:00:00Z) or epoch seconds") from None


def _windows(inputs: OwnTelemetry, alert_time: float, span: tuple[float, float] | None) -> tuple[Window, Window]:
    end = alert_time + 60 * inputs.window_minutes
    if span is not None:
        if span[1] <= alert_time:
            raise TelemetryError(f"the traces and logs end at {_clock(span[1])}, before the alert at "
                                 f"{_clock(alert_time)}: nothing to analyse after the alert")
        end = min(end, span[1])
    return Window(alert_time, end), Window(alert_time - 60 * inputs.baseline_minutes, alert_time)


def _metrics(inputs: OwnTelemetry, config: QueryConfig, start: float, end: float) -> dict[str, MetricSeries]:
    if not inputs.prometheus:
        return {}
    if is_url(inputs.prometheus):
        return fetch_metrics(inputs.prometheus, config, start, end)
    return read_saved_metrics(Path(inputs.prometheus), config)


def _incident(inputs: OwnTelemetry, records: _Records, metrics: dict[str, MetricSeries],
              activation: RuleActivation | None, alert_time: float, window: Window, baseline: Window) -> Incident:
    spans = [s for s in records.spans if window.start <= s.start <= window.end]
    logs = [r for r in records.logs if window.start <= r.time <= window.end]
    topology = nx.DiGraph(sorted(span_edges(records.spans)))
    entities = sorted(set(topology.nodes) | set(metrics) | {r.entity for r in records.logs})
    topology.add_nodes_from(entities)
    alert = _alert(inputs, activation, alert_time, records.spans, entities)
    return Incident(
        case_id=inputs.name or f"own-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(alert_time))}",
        system="own telemetry",
        entities=entities,
        topology=topology,
        alert=alert,
        window=window,
        baseline=baseline,
        metrics=metrics,
        spans=spans,
        logs=logs,
        window_trace_minutes=window.minutes,
        reference=_reference_minutes(records, baseline),
        missing=_missing(inputs),
        sources=records.sources,
    )


def _alert(inputs: OwnTelemetry, activation: RuleActivation | None, alert_time: float, spans: list[Span],
           entities: list[str]) -> Alert:
    entity = inputs.alert_entity or (activation.entity if activation else None) or entry_service(spans)
    if entity is None:
        raise TelemetryError("no alerted service: give --alert-entity (no traces to find the entry service)")
    if entity not in entities:
        raise TelemetryError(f"--alert-entity {entity!r} is not a service of this telemetry; "
                             f"services: {', '.join(entities)}")
    if activation is not None:
        return Alert(entity, activation.rule, alert_time,
                     f"alert {activation.rule} on {entity}: active since {_clock(activation.active_at)}, "
                     f"firing at {_clock(activation.firing_at)}")
    return Alert(entity, "alert", alert_time, f"alert on {entity} at {_clock(alert_time)}")


def _reference_minutes(records: _Records, baseline: Window) -> list[ReferenceMinute]:
    """Fault-free spans and logs per clock minute before the alert."""
    spans: dict[int, list[Span]] = defaultdict(list)
    logs: dict[int, list[LogRecord]] = defaultdict(list)
    for span in records.spans:
        if baseline.start <= span.start < baseline.end:
            spans[int(span.start // 60)].append(span)
    for record in records.logs:
        if baseline.start <= record.time < baseline.end:
            logs[int(record.time // 60)].append(record)
    return [ReferenceMinute(_clock(60 * minute), tuple(spans[minute]), tuple(logs[minute]))
            for minute in sorted(set(spans) | set(logs))]


def _missing(inputs: OwnTelemetry) -> list[str]:
    absent = {"traces (no --otel)": inputs.otel, "metrics (no --prometheus)": inputs.prometheus,
              "logs (no --logs)": inputs.logs}
    return [what for what, given in absent.items() if not given] + ["root-cause label (own telemetry has none)"]


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
