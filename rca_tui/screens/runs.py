"""Runs: every stored run; open one in replay, start the demo, or start a case from a dataset folder."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from engine.runs.session import Session
from engine.telemetry.own import OwnTelemetry
from rca_tui.screens.dialogs import PromptScreen
from rca_tui.screens.own_telemetry import OwnTelemetryScreen

HINT = "Enter replay · a attribute · d demo · c case · o own telemetry · r reload"


class RunsScreen(Screen):
    DEFAULT_CSS = """
    RunsScreen #runs-hint { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    RunsScreen DataTable { height: 1fr; border: round $primary-muted; }
    RunsScreen DataTable:focus { border: round $primary; }
    """
    BINDINGS = [
        Binding("a", "attribute", "Attribute", id="runs.attribute",
                tooltip="Who / when made the selected run go wrong: Soft-IDG, evidence path, slash (SLM, a few s)"),
        Binding("c", "start_case", "Run case", id="runs.case", tooltip="Run a case from a dataset folder"),
        Binding("o", "start_own", "Own telemetry", id="runs.own",
                tooltip="Run on your own OTLP traces, Prometheus metrics, log files and alert"),
        Binding("r", "reload", "Reload", id="runs.reload", tooltip="Read the runs again"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(HINT, id="runs-hint")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "runs"
        table = self.query_one(DataTable)
        table.add_columns("run", "incident", "reasoner", "status", "root cause")
        table.border_title = "Runs (newest first)"

    def on_screen_resume(self) -> None:
        self.action_reload()
        self.query_one(DataTable).focus()

    def action_reload(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for run in self.app.session.runs():
            table.add_row(run["run_id"], run["incident"][:28], run["reasoner"], run["status"],
                          (run["result"] or {}).get("root_cause") or "-", key=run["run_id"])

    def selected_run(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_attribute(self) -> None:
        run_id = self.selected_run()
        if run_id is None:
            self.notify("no run to attribute: start one first (d runs the demo)", severity="warning")
            return
        self.app.attribute(run_id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_replay(event.row_key.value)

    # ---- a case from a dataset folder ----------------------------------------------------------------------
    def action_start_case(self) -> None:
        self.app.push_screen(PromptScreen("Dataset folder (a case folder of Nezha, PetShop or mABC)", "/path/to/dataset"),
                             self._ask_case)

    def _ask_case(self, folder: str | None) -> None:
        if not folder:
            return
        try:
            from engine.telemetry import list_cases

            cases = [case.case_id for case in list_cases(Path(folder).expanduser())]
        except (ImportError, OSError, ValueError) as error:
            self.notify(f"cannot list the cases of {folder}: {error}", severity="error", timeout=8)
            return
        if not cases:
            self.notify(f"{folder} holds no cases", severity="warning")
            return
        question = f"Case id ({len(cases)} cases: {', '.join(cases[:4])}{'…' if len(cases) > 4 else ''})"
        self.app.push_screen(PromptScreen(question, cases[0], cases[0]), partial(self._start_case, folder))

    def _start_case(self, folder: str, case_id: str | None) -> None:
        if case_id:
            self.app.start_run(partial(run_case, Path(folder).expanduser(), case_id), f"case {case_id}")


    # ---- own telemetry ---------------------------------------------------------------------------------------
    def action_start_own(self) -> None:
        self.app.push_screen(OwnTelemetryScreen(), self._start_own)

    def _start_own(self, inputs: OwnTelemetry | None) -> None:
        if inputs is not None:
            self.app.start_run(partial(run_own, inputs), "own telemetry")


def run_own(inputs: OwnTelemetry, session: Session) -> dict:
    from engine.reasoners.heuristic import HeuristicReasoner
    from engine.runs.runner import load_own_incident, run_incident

    incident = load_own_incident(inputs)
    return run_incident(session, incident, HeuristicReasoner(), dataset=", ".join(incident.sources))


def run_case(folder: Path, case_id: str, session: Session) -> dict:
    from engine.reasoners.heuristic import HeuristicReasoner
    from engine.runs.runner import load_incident, run_incident

    return run_incident(session, load_incident(folder, case_id), HeuristicReasoner(), dataset=str(folder))
