"""The "own telemetry" dialog: the same inputs as `rca-tui run --otel … --prometheus … --logs … --alert-…`."""
from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from engine.telemetry.own import OwnTelemetry

# (field id, label, placeholder); paths are expanded, empty fields are left out
FIELDS = (
    ("otel", "Traces", "OTLP/JSON file (Collector file exporter)"),
    ("prometheus", "Prometheus", "http://host:9090 or saved query_range .json"),
    ("prometheus_queries", "Queries", "queries.toml (for a URL)"),
    ("logs", "Logs", "log file or folder"),
    ("alert_time", "Alert time", "2024-05-01T12:00:00Z or epoch"),
    ("alert_rules", "Alert rule", "rules.yml (instead of a time)"),
    ("alert_rule", "Rule name", "default: the first alerting rule"),
    ("alert_entity", "Alerted", "service (default: where traces start)"),
)
PATHS = {"otel", "prometheus_queries", "logs", "alert_rules"}


class OwnTelemetryScreen(ModalScreen[OwnTelemetry | None]):
    """Enter moves to the next field and, on the last, starts the run; Esc cancels."""

    DEFAULT_CSS = """
    OwnTelemetryScreen { align: center middle; }
    OwnTelemetryScreen > Vertical { width: 76; height: auto; border: thick $accent; background: $surface; padding: 0 1; }
    OwnTelemetryScreen Grid { grid-size: 2; grid-columns: 12 1fr; grid-rows: 1; grid-gutter: 0 1; height: auto; }
    OwnTelemetryScreen #own-hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="own.cancel"),
                Binding("ctrl+s", "submit", "Run", id="own.run", tooltip="Start the run with these inputs")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Own telemetry: traces, metrics and/or logs, and an alert time or rule")
            with Grid():
                for field_id, label, placeholder in FIELDS:
                    yield Label(label)
                    yield Input(placeholder=placeholder, id=f"own-{field_id}", compact=True)
            yield Label("Enter: next field / run · Ctrl+S: run · Esc: cancel", id="own-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == f"own-{FIELDS[-1][0]}":
            self.action_submit()
        else:
            self.focus_next()

    def action_submit(self) -> None:
        inputs = self.inputs()
        if not inputs.given:
            self.notify("give traces, Prometheus or logs", severity="warning")
            return
        self.dismiss(inputs)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def inputs(self) -> OwnTelemetry:
        values = {field_id: self.query_one(f"#own-{field_id}", Input).value.strip() for field_id, _, _ in FIELDS}
        return OwnTelemetry(**{key: (Path(value).expanduser() if key in PATHS else value)
                               for key, value in values.items() if value})
