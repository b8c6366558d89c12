"""The live console: the engine's events as they happen, in the four run panes."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from engine.runs.timeline import Timeline
from rca_tui.widgets.pane_bar import KeyFooter, PaneBar
from rca_tui.widgets.agent_log import AgentLog
from rca_tui.widgets.run_view import RunView

EMPTY_HINT = "No run yet: press {app.demo} to run the demo, {app.runs} for the runs list, {app.help} for help."


class ConsoleScreen(Screen):
    DEFAULT_CSS = """
    ConsoleScreen #run-status { height: 1; padding: 0 1; background: $panel; color: $text; }
    """

    def compose(self) -> ComposeResult:
        yield PaneBar("console")
        yield Static(self.app.keys_text(EMPTY_HINT), id="run-status")
        yield RunView()
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "console"
        self.query_one(AgentLog).focus()

    def on_screen_resume(self) -> None:
        timeline = self.app.live
        self.query_one(RunView).show(timeline, len(timeline) if timeline else 0)
        self._show_status(timeline)

    def on_database_changed(self, _message) -> None:
        """Another process stored a newer run (or more of this one), and the app took it as the live run."""
        if self.query_one(RunView).timeline is not self.app.live:
            self.on_screen_resume()

    def follow(self, timeline: Timeline) -> None:
        """New events arrived in the live timeline: draw only what changed."""
        view = self.query_one(RunView)
        if view.timeline is timeline:
            view.advance(len(timeline), streaming=self.app.running)
        else:
            view.show(timeline, len(timeline))
        self._show_status(timeline)

    def _show_status(self, timeline: Timeline | None) -> None:
        if timeline is None:
            self.query_one("#run-status", Static).update(self.app.keys_text(EMPTY_HINT))
            return
        state = "running" if self.app.running else "done"
        block = timeline.block_at(len(timeline))
        block_text = block if block is not None else "-"
        self.query_one("#run-status", Static).update(Content(
            f"run {timeline.run_id} · {len(timeline)} events · block {block_text} · {state}"),
            layout=False)  # one fixed-height line, plain text (no markup to parse 30 times a second)
