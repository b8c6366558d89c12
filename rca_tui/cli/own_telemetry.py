"""The `run` options that read an SRE's own telemetry instead of a dataset folder."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

PANEL = "Own telemetry"

OtelOption = Annotated[Path | None, typer.Option(
    "--otel", rich_help_panel=PANEL, help="OTLP/JSON traces, one ExportTraceServiceRequest per line (the "
                                          "Collector's file exporter; .gz too).")]
PrometheusOption = Annotated[str | None, typer.Option(
    "--prometheus", metavar="URL|FILE", rich_help_panel=PANEL,
    help="A Prometheus base URL (queries from --prometheus-queries) or a saved query_range JSON file.")]
QueriesOption = Annotated[Path | None, typer.Option(
    "--prometheus-queries", rich_help_panel=PANEL, help="TOML: [queries] metric name = PromQL; entity_label, "
                                                        "step, timeout.")]
LogsOption = Annotated[Path | None, typer.Option(
    "--logs", rich_help_panel=PANEL, help="A log file or folder: JSON lines or text lines starting with a "
                                          "timestamp; a service field or one file per service.")]
AlertTimeOption = Annotated[str | None, typer.Option(
    "--alert-time", rich_help_panel=PANEL, help="When the trouble began: ISO 8601 (UTC if no zone) or epoch.")]
AlertEntityOption = Annotated[str | None, typer.Option(
    "--alert-entity", rich_help_panel=PANEL, help="The alerted service (default: the alert rule's series, else "
                                                  "the service where most traces start).")]
AlertRulesOption = Annotated[Path | None, typer.Option(
    "--alert-rule", rich_help_panel=PANEL, help="A Prometheus rule file: the alert time is when its rule first "
                                                "held on --prometheus URL.")]
AlertNameOption = Annotated[str | None, typer.Option(
    "--alert-name", rich_help_panel=PANEL, help="Which alerting rule of that file (default: the first).")]


def own_telemetry(name: str | None, otel: Path | None, prometheus: str | None, queries: Path | None,
                  logs: Path | None, alert_time: str | None, alert_entity: str | None, alert_rules: Path | None,
                  alert_name: str | None):
    from engine.telemetry.own import OwnTelemetry

    return OwnTelemetry(otel=otel, prometheus=prometheus, prometheus_queries=queries, logs=logs,
                        alert_time=alert_time, alert_entity=alert_entity, alert_rules=alert_rules,
                        alert_rule=alert_name, name=name)
