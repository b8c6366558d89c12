"""Replay a past run: step forward / back one event, jump to a block or an event, play / pause with speed.
Every pane shows the state at the cursor, the same state `rca-tui replay RUN --step N --headless --json` prints."""
from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from engine.runs.timeline import Timeline, open_timeline
from engine.runs.session import Session
from rca_tui.heap import freeze_long_lived
from rca_tui.widgets.pane_bar import KeyFooter, PaneBar
from rca_tui.messages import TimelineLoaded
from rca_tui.screens.dialogs import PromptScreen
from rca_tui.widgets.agent_log import AgentLog
from rca_tui.widgets.run_view import RunView

SPEEDS = (1, 2, 4, 8, 16, 64)
BASE_INTERVAL_S = 0.5
NO_RUN_HINT = "No run open: press {replay.open} for the runs list (or {app.runs}), then Enter on a run."


class ReplayScreen(Screen):
    DEFAULT_CSS = """
    ReplayScreen #replay-status { height: 1; padding: 0 1; background: $panel; color: $text; }
    """
    BINDINGS = [
        # the footer shows one entry per pair (←→ Step, [] Block, +- Speed); F1 lists each key
        Binding("right,l", "step(1)", "Step", id="replay.forward", priority=True, key_display="←→",
                tooltip="One event forward (← or h: one back)"),
        Binding("left,h", "step(-1)", "Back", id="replay.back", priority=True, show=False, key_display="←",
                tooltip="One event back"),
        Binding("right_square_bracket", "block(1)", "Block", id="replay.next_block", key_display="[]",
                tooltip="Jump to the end of the next block ([: the previous one)"),
        Binding("left_square_bracket", "block(-1)", "Prev block", id="replay.prev_block", key_display="[",
                show=False, tooltip="Jump to the end of the previous block"),
        Binding("home", "seek_to(0)", "Start", id="replay.start", show=False, priority=True, tooltip="Before the first event"),
        Binding("end", "seek_end", "End", id="replay.end", show=False, priority=True, tooltip="After the last event"),
        Binding("g", "goto", "Go to", id="replay.goto", show=False, tooltip="Go to an event number, or a block as #H"),
        Binding("space", "play", "Play", id="replay.play", priority=True, key_display="space",
                tooltip="Play or pause"),
        Binding("plus,equals_sign", "speed(1)", "Speed", id="replay.faster", key_display="+-",
                tooltip="Play faster (-: slower)"),
        Binding("minus", "speed(-1)", "Slower", id="replay.slower", key_display="-", show=False,
                tooltip="Play slower"),
        Binding("c", "consensus", "Consensus", id="replay.consensus",
                tooltip="Jump to the event where the vote reached consensus"),
        Binding("x", "explore", "Tx", id="replay.explore",
                tooltip="Open the cursor's transaction (or its block) in the Explorer, with its Merkle proof"),
        Binding("o", "open_runs", "Open run", id="replay.open", show=False, tooltip="Choose another run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.timeline: Timeline | None = None
        self.cursor = 0
        self.speed_index = 0
        self.play_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield PaneBar("replay")
        yield Static(self.app.keys_text(NO_RUN_HINT), id="replay-status")
        yield RunView()
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "replay"
        self.query_one(AgentLog).focus()

    def on_screen_resume(self) -> None:
        """Open the run the app asked for (runs list, command line), else the latest one."""
        runs = self.app.session.runs()
        wanted = self.app.replay_run or (runs[0]["run_id"] if runs else None)
        if wanted and (self.timeline is None or self.timeline.run_id != wanted):
            self.load(wanted)

    # ---- loading -------------------------------------------------------------------------------------------
    def load(self, run_id: str) -> None:
        self.pause()
        self.query_one("#replay-status", Static).update(f"opening {run_id}…")
        self._load_in_worker(run_id)

    @work(thread=True, exclusive=True, group="replay-load", exit_on_error=False)
    def _load_in_worker(self, run_id: str) -> None:
        session = Session(self.app.db_path, self.app.clock)
        try:
            if session.run(run_id) is None:
                raise LookupError(f"no run {run_id!r}")
            self.post_message(TimelineLoaded(open_timeline(session, run_id)))
        finally:
            session.close()

    def on_timeline_loaded(self, message: TimelineLoaded) -> None:
        self.timeline = message.timeline
        freeze_long_lived()  # a long run's events, out of the collector's full passes
        start, self.app.replay_step = self.app.replay_step or 0, None
        self.move_to(start)

    # ---- moving the cursor ---------------------------------------------------------------------------------
    def move_to(self, cursor: int) -> None:
        if self.timeline is None:
            self.notify(self.app.keys_text(NO_RUN_HINT), severity="warning")
            return
        cursor = self.timeline.clamp(cursor)
        view = self.query_one(RunView)
        if view.timeline is self.timeline and cursor == view.cursor + 1:
            view.advance(cursor)
        else:
            view.show(self.timeline, cursor)
        self.cursor = cursor
        self.app.replay_position = (self.timeline, cursor)
        self.app.focus_run, self.app.follow_cursor = self.timeline.run_id, True
        self._show_status()

    def action_step(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_block(self, direction: int) -> None:
        if self.timeline is not None:
            self.move_to(self.timeline.neighbour_block_cursor(self.cursor, direction))

    def action_seek_to(self, cursor: int) -> None:
        self.move_to(cursor)

    def action_seek_end(self) -> None:
        self.move_to(len(self.timeline) if self.timeline else 0)

    def action_goto(self) -> None:
        self.app.push_screen(PromptScreen("Go to event number N, or block #H", "42 or #7"), self.goto)

    def goto(self, answer: str | None) -> None:
        if not answer or self.timeline is None:
            return
        target = answer.lstrip("#b")
        if not target.isdigit():
            self.notify(f"{answer!r} is neither an event number nor #height", severity="warning")
        elif answer[0] in "#b":
            self.move_to(self.timeline.cursor_for_block(int(target)))
        else:
            self.move_to(int(target))

    # ---- play / pause --------------------------------------------------------------------------------------
    def action_play(self) -> None:
        if self.play_timer is not None:
            self.pause()
        elif self.timeline is not None:
            if self.cursor >= len(self.timeline):
                self.move_to(0)
            self._schedule_tick()
        self._show_status()

    def pause(self) -> None:
        if self.play_timer is not None:
            self.play_timer.stop()
            self.play_timer = None

    def _schedule_tick(self) -> None:
        self.play_timer = self.set_timer(BASE_INTERVAL_S / SPEEDS[self.speed_index], self._tick)

    def _tick(self) -> None:
        self.move_to(self.cursor + 1)
        if self.timeline is not None and self.cursor < len(self.timeline):
            self._schedule_tick()
        else:
            self.play_timer = None
            self._show_status()

    def action_speed(self, delta: int) -> None:
        self.speed_index = max(0, min(len(SPEEDS) - 1, self.speed_index + delta))
        self._show_status()

    def action_consensus(self) -> None:
        from engine.runs.navigation import consensus_cursor

        target = consensus_cursor(self.timeline) if self.timeline is not None else None
        if target is None:
            self.notify("this run reached no consensus", severity="warning")
            return
        self.pause()
        self.move_to(target)

    def action_explore(self) -> None:
        """The cursor's event: its tx (or the tx it led to) in the Explorer, else its block."""
        from engine.runs.navigation import event_tx

        if self.timeline is None or self.cursor == 0:
            self.notify("move the cursor onto an event first (→)", severity="warning")
            return
        position = self.cursor - 1
        self.pause()
        self.app.explore(tx=event_tx(self.timeline, position), block=self.timeline.block_at(self.cursor))

    def action_open_runs(self) -> None:
        self.pause()
        self.app.switch_mode("runs")

    def _show_status(self) -> None:
        if self.timeline is None:
            return
        block = self.timeline.block_at(self.cursor)
        mode = f"▶ {SPEEDS[self.speed_index]}×" if self.play_timer is not None else f"⏸ {SPEEDS[self.speed_index]}×"
        self.query_one("#replay-status", Static).update(Content(
            f"{self.timeline.run_id} · event {self.cursor}/{len(self.timeline)} · "
            f"block {block if block is not None else '-'} · {mode}"), layout=False)  # one fixed-height line, plain
