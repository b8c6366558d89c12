"""Runs: every stored run; open one in replay, start the demo, or start a case from a dataset folder."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from textual import work

from engine.runs.session import Session
from engine.telemetry.own import OwnTelemetry
from rca_tui.formatting import short_agent
from rca_tui.widgets.pane_bar import KeyFooter, PaneBar
from rca_tui.widgets.tables import refill, selected_key
from rca_tui.screens.dialogs import PromptScreen
from rca_tui.screens.own_telemetry import OwnTelemetryScreen

HINT = ("⏎ replay · {runs.attribute} attribute · {runs.report} report · {app.demo} demo · {runs.case} case · "
        "{runs.own} own data · {runs.filter} filter")  # keys as the user's keymap has them (RcaApp.keys_text)


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
        Binding("p", "report", "Report", id="runs.report",
                tooltip="Write the selected run's incident report (Markdown and HTML) beside the database"),
        Binding("slash", "text_filter", "Filter", id="runs.filter", key_display="/",
                tooltip="Show only runs whose row contains a text (empty: all)"),
        Binding("y", "copy", "Copy id", id="runs.copy", tooltip="Copy the selected run id to the clipboard"),
        Binding("r", "reload", "Reload", id="runs.reload", show=False, tooltip="Read the runs again"),
    ]
    text = ""

    def compose(self) -> ComposeResult:
        yield PaneBar("runs")
        yield Static(self.app.keys_text(HINT), id="runs-hint")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "runs"
        table = self.query_one(DataTable)
        # what decides first (at 80 columns the incident scrolls): ✓ when the root cause is the truth, else ✗ truth
        table.add_columns("run", "root cause", "truth", "blamed", "started", "status", "incident")
        table.border_title = "Runs (newest first)"

    def on_screen_resume(self) -> None:
        """The runs again, the cursor on the run the other panes follow (just run, replayed or attributed)."""
        self.action_reload()
        table = self.query_one(DataTable)
        if self.app.focus_run in table.rows:
            table.move_cursor(row=table.get_row_index(self.app.focus_run))
        table.focus()

    def on_database_changed(self, _message) -> None:
        self.action_reload()  # a run started, finished or attributed by another process shows without a key

    def action_reload(self) -> None:
        """Read the runs again; the selected run stays selected."""
        table = self.query_one(DataTable)
        rows = ((runs_row(row), row["run_id"]) for row in self.app.session.run_rows())
        refill(table, ((cells, key) for cells, key in rows
                       if not self.text or self.text.lower() in " ".join(cells).lower()))
        table.border_title = "Runs (newest first)" + (f" · “{self.text}”" if self.text else "")

    def selected_run(self) -> str | None:
        return selected_key(self.query_one(DataTable))

    def action_attribute(self) -> None:
        run_id = self.selected_run()
        if run_id is None:
            self.notify("no run to attribute: start one first (d runs the demo)", severity="warning")
            return
        self.app.attribute(run_id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_replay(event.row_key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value is not None:
            if self.app.focus_run != event.row_key.value:  # the Graph pane follows the selected run, as it ended
                self.app.focus_run, self.app.follow_cursor = event.row_key.value, False

    def action_text_filter(self) -> None:
        self.app.push_screen(PromptScreen("Show only runs containing (empty: every run)", "ts-route", self.text),
                             self._set_text)

    def _set_text(self, text: str | None) -> None:
        if text is not None:
            self.text = text.strip()
            self.action_reload()

    def action_copy(self) -> None:
        run_id = self.selected_run()
        if run_id:
            self.app.copy_to_clipboard(run_id)
            self.notify(f"copied {run_id}", timeout=3)

    def action_report(self) -> None:
        run_id = self.selected_run()
        if run_id is None:
            self.notify("no run to report on", severity="warning")
            return
        self.notify(f"writing the report of {run_id}…", timeout=2)
        self._report_in_worker(run_id)

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def _report_in_worker(self, run_id: str) -> None:
        from engine.runs.report import incident_report
        from rca_tui.report import to_html, to_markdown

        session = Session(self.app.db_path, self.app.clock)
        try:
            report = incident_report(session, run_id)
        finally:
            session.close()
        folder = self.app.db_path.parent / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{run_id}.md").write_text(to_markdown(report), encoding="utf-8")
        (folder / f"{run_id}.html").write_text(to_html(report), encoding="utf-8")
        self.app.call_from_thread(self.notify, f"report: {folder / run_id}.md and .html", timeout=10)

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

def runs_row(row: dict) -> list[str]:
    """A Runs-table row: the full run id (copyable with y), ✓ or ✗ and the truth, whatever status the run has."""
    truth = {True: "✓", False: f"✗ {row.get('truth')}", None: "-"}[row.get("correct")]
    return [row["run_id"], row.get("root_cause") or "-", truth,
            short_agent(row["blamed"]) if row.get("blamed") else "-", short_time(row.get("started")),
            str(row["status"]), row["incident"]]


def short_time(started: str | None) -> str:
    """`14:03` today, `11-14 22:13` another day."""
    from datetime import date

    if not started:
        return "-"
    return started[11:16] if started[:10] == date.today().isoformat() else started[5:16]


def run_case(folder: Path, case_id: str, session: Session) -> dict:
    from engine.reasoners.heuristic import HeuristicReasoner
    from engine.runs.runner import load_incident, run_incident

    return run_incident(session, load_incident(folder, case_id), HeuristicReasoner(), dataset=str(folder))
