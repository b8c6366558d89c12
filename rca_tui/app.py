"""The console: five panes as MODES (console, explorer, graph, replay, runs), engine runs in thread workers whose
events come back as typed messages, themes from `themes/`, F1 help and a command palette with every action."""
from __future__ import annotations

import os
import re
import sys
import termios
import threading
import time
import tomllib
from collections import deque
from pathlib import Path
from typing import Callable

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.theme import Theme
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from engine.events import RunEvent
from engine.agents.roles import AGENT_KEYS
from engine.runs.timeline import Timeline
from engine.runs.session import Session
from rca_tui.heap import freeze_long_lived
from rca_tui.messages import AttributionRecorded, DatabaseChanged, EventsPending, RunEnded
from rca_tui.screens.commands import ActionsProvider
from rca_tui.screens.console import ConsoleScreen
from rca_tui.screens.explorer import ExplorerScreen
from rca_tui.screens.graph import GraphScreen
from rca_tui.screens.help import HelpScreen
from rca_tui.screens.replay import ReplayScreen
from rca_tui.screens.runs import RunsScreen
from rca_tui.screens.dialogs import ConfirmScreen

THEMES_DIR = Path(__file__).resolve().parents[1] / "themes"
THEME_ORDER = ("rca-dark", "rca-light", "rca-high-contrast", "rca-monochrome")
RunStarter = Callable[[Session], dict]
FRAME_S = 1 / 30
"""While events stream, the live console takes them and redraws at most this often; between frames the app is idle,
so keys are handled and painted at once."""
DRAIN_BUDGET_S = 0.008
"""Time a frame may spend indexing streamed events; a flood waits in the backlog for the next frames."""
DRAIN_CHUNK = 500
WATCH_S = 1.0
"""How often the console asks SQLite whether another connection wrote (`Session.data_version`, no file read)."""
HANGUP_CHECK_S = 1.0
"""How often the console checks that its terminal is still there (an SSH session can drop at any time)."""
FREEZE_EVERY = 5_000
"""Events taken in since the cyclic collector last had the heap frozen (`freeze_long_lived`)."""


def load_themes(directory: Path = THEMES_DIR) -> list[Theme]:
    return [Theme(**tomllib.loads(path.read_text(encoding="utf-8"))) for path in sorted(directory.glob("*.toml"))]


class RcaApp(App):
    TITLE = "rca-tui"
    CSS_PATH = "app.tcss"
    MODES = {"console": ConsoleScreen, "explorer": ExplorerScreen, "graph": GraphScreen, "replay": ReplayScreen,
             "runs": RunsScreen}
    DEFAULT_MODE = "console"
    COMMANDS = App.COMMANDS | {ActionsProvider}
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help", tooltip="Every key of this pane"),
        # the panes' numbers are in every screen's title line (PaneBar), so the footer keeps room for the pane's keys
        Binding("1", "switch_mode('console')", "Console", id="app.console", show=False, tooltip="Live run"),
        Binding("2", "switch_mode('explorer')", "Explorer", id="app.explorer", show=False,
                tooltip="Blocks, txs, proofs"),
        Binding("3", "switch_mode('graph')", "Graph", id="app.graph", show=False,
                tooltip="Fault web or Soft-IDG of the run"),
        Binding("4", "switch_mode('replay')", "Replay", id="app.replay", show=False, tooltip="Step through a past run"),
        Binding("5", "switch_mode('runs')", "Runs", id="app.runs", show=False, tooltip="Start or open runs"),
        Binding("d", "start_demo", "Demo", id="app.demo", show=False, tooltip="Run the bundled demo incident"),
        Binding("t", "next_theme", "Theme", id="app.theme", show=False, tooltip="Next colour theme"),
        Binding("q", "quit", "Quit", id="app.quit", show=False, tooltip="Leave the console"),
        Binding("ctrl+p", "command_palette", "Actions", id="app.actions", show=False, priority=True,
                tooltip="Find any action of this pane by name"),
    ]

    def __init__(self, db_path: Path, clock=None, offer_demo: bool = True, replay_run: str | None = None,
                 replay_step: int | None = None, start_demo: bool = False, keymap_path: Path | None = None) -> None:
        no_color = "NO_COLOR" in os.environ  # Textual consumes the variable in App.__init__
        super().__init__()
        self.db_path, self.clock = Path(db_path), clock
        self.session = Session(self.db_path, clock)
        self.offer_demo, self.replay_run, self.replay_step = offer_demo, replay_run, replay_step
        self.start_demo = start_demo
        self.keymap_path = keymap_path  # None: default keys (the CLI passes settings().keymap)
        self._clashes_told: set[frozenset[str]] = set()
        self._catalogue: dict | None = None
        self.keymap_problems = self._read_keymap()  # before the panes compose: their PaneBar shows the keys
        self.live = self._latest_run()
        self.focus_run: str | None = None  # the run the panes follow: chosen in Runs, replayed, or started
        self.follow_cursor = True  # the Graph shows the replay cursor's state (False: the run as it ended)
        self.graph_view: str | None = None  # a view the Graph pane opens on next (the Soft-IDG after attributing)
        self.explorer_target: tuple[str, object] | None = None
        self._opened: dict[str, Timeline] = {}
        self.replay_position: tuple[Timeline, int] | None = None
        self.running = False
        self.attributing: str | None = None  # the run being attributed
        self.attribution_model: str | None = None  # None: the engine's default SLM (tests name a tiny one)
        self._pending: list[RunEvent] = []  # filled by the run worker's thread
        self._pending_lock = threading.Lock()
        self._backlog: deque[RunEvent] = deque()  # taken from _pending, not yet shown
        self._drain_timer: Timer | None = None
        self._drained_at = 0.0
        self._taken = 0  # events taken from this console's own workers (a database read older than them is stale)
        self._taken_at_freeze = 0
        self._seen_version = self.session.data_version()
        for theme in load_themes():
            self.register_theme(theme)
        self.theme = "rca-monochrome" if no_color else "rca-dark"

    # ---- start-up ------------------------------------------------------------------------------------------
    def _latest_run(self, session: Session | None = None) -> Timeline | None:
        """The newest stored run, read through `session` (a worker's own connection) or the app's."""
        session = session or self.session
        runs = session.runs()
        if not runs:
            return None
        return Timeline(runs[0]["run_id"], session.run_events(runs[0]["run_id"]), self.tip_economy)

    def on_mount(self) -> None:
        self.set_interval(WATCH_S, self._watch_database)
        if not self.is_headless and _terminal_attached():
            self.set_interval(HANGUP_CHECK_S, self._exit_if_hung_up)
        if self.keymap_problems:
            self.notify("\n".join(self.keymap_problems) + "\nthe default keys stay", title="keymap not applied",
                        severity="error", timeout=15)
        if self.replay_run:
            self.open_replay(self.replay_run)
        elif self.start_demo:
            self.action_start_demo()
        elif self.live is None and self.offer_demo:
            self.push_screen(ConfirmScreen("The database holds no runs yet. Run the bundled demo incident?"),
                             lambda yes: self.action_start_demo() if yes else None)

    def _read_keymap(self) -> list[str]:
        """The user's keymap file over the default keys; a bad file changes nothing and its problems (file, id)
        are returned for on_mount to show."""
        if self.keymap_path is None:
            return []
        from rca_tui.keymap import read_keymap

        keymap, problems = read_keymap(self.keymap_path, set(self.catalogue()))
        if keymap:
            self.set_keymap(keymap)
        return problems

    def catalogue(self) -> dict:
        """Every binding with an id, by id (read once)."""
        if self._catalogue is None:
            from rca_tui.keymap import binding_catalogue

            self._catalogue = {binding.id: binding for binding in binding_catalogue()}
        return self._catalogue

    def key_of(self, binding_id: str) -> str:
        """How the (first) key of a binding shows: the keymap's when it remaps it, else the default's."""
        keys = self._keymap.get(binding_id)  # Textual's normalised keymap: what Screen._binding_chain applies
        binding = self.catalogue().get(binding_id)
        if not keys and binding is None:
            raise KeyError(f"no binding with id {binding_id!r}")
        if not keys and binding.display:
            return binding.display
        return self.get_key_display(Binding((keys or binding.key).split(",")[0], ""))

    def get_key_display(self, binding: Binding) -> str:
        """Keys as the footer, the pane bar and Help write them: `/`, `esc`, and F1 and ^P as the keyboard writes
        them."""
        shown = super().get_key_display(binding)
        return shown.upper() if re.fullmatch(r"f\d+|\^[a-z]", shown) else shown

    def keys_text(self, template: str) -> str:
        """A hint naming keys as `{runs.attribute}`, written with the keys in force (the user's keymap)."""
        return re.sub(r"\{([a-z_]+\.[a-z_]+)\}", lambda m: self.key_of(m.group(1)), template)

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node) -> None:
        """Two bindings of one place on the same key after remapping: say so once (Textual calls this per key)."""
        ids = frozenset(b.id or b.action for b in clashed_bindings)
        if ids not in self._clashes_told:
            self._clashes_told.add(ids)
            self.notify(f"{self.keymap_path}: {', '.join(sorted(ids))} share a key in {type(node).__name__}",
                        title="keymap clash", severity="warning", timeout=10)

    def tip_economy(self, _height: int | None) -> list[dict]:
        """Live runs: balances as the chain holds them now."""
        return [row for row in self.session.economy() if row["agent"] in AGENT_KEYS]

    def graph_source(self) -> tuple[str, dict]:
        """What the graph pane draws: the run the panes follow (chosen in Runs, replayed or started): at the
        replay cursor when it is the replayed run, else as it ended; with no choice, the replay's or the live run's."""
        replayed = self.replay_position[0] if self.replay_position is not None else None
        wanted = self.focus_run or (replayed.run_id if replayed else self.live.run_id if self.live else None)
        if wanted is None:
            return "no run yet", {}
        if replayed is not None and replayed.run_id == wanted and self.follow_cursor:
            cursor = self.replay_position[1]
            return f"replay {wanted} @ {cursor}", with_step_seqs(replayed, replayed.graph(cursor))
        timeline = replayed if replayed is not None and replayed.run_id == wanted else self.timeline_of(wanted)
        return f"run {wanted}", with_step_seqs(timeline, timeline.graph(len(timeline)))

    def timeline_of(self, run_id: str) -> Timeline:
        """The live timeline when it is that run's, else the run's stored events (read once)."""
        if self.live is not None and self.live.run_id == run_id:
            return self.live
        if run_id not in self._opened:
            from engine.runs.timeline import open_timeline

            self._opened = {run_id: open_timeline(self.session, run_id)}
        return self._opened[run_id]

    # ---- actions -------------------------------------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_next_theme(self) -> None:
        index = THEME_ORDER.index(self.theme) if self.theme in THEME_ORDER else -1
        self.theme = THEME_ORDER[(index + 1) % len(THEME_ORDER)]
        self.notify(f"theme {self.theme}", timeout=2)

    def action_start_demo(self) -> None:
        self.start_run(demo_starter, "the demo incident")

    def start_run(self, starter: RunStarter, what: str) -> None:
        if self.running:
            self.notify("a run is already in progress", severity="warning")
            return
        self.running = True
        self.notify(f"running {what}…", timeout=3)
        self.switch_mode("console")
        self._run_in_worker(starter)

    def open_replay(self, run_id: str) -> None:
        self.replay_run = self.focus_run = run_id
        self.switch_mode("replay")

    def explore(self, tx: str | None = None, block: int | None = None) -> None:
        """Show a tx (with its Merkle proof) or a block in the Explorer."""
        self.explorer_target = ("tx", tx) if tx else (("block", block) if block is not None else None)
        self.switch_mode("explorer")

    # ---- attributing a run (who / when, Soft-IDG, slash) ---------------------------------------------------
    def attribute(self, run_id: str) -> None:
        if self.attributing:
            self.notify(f"already attributing {self.attributing}", severity="warning")
            return
        self.attributing = run_id
        self.notify(f"attributing {run_id}… (the SLM reads every step: a few seconds)", timeout=4)
        self._attribute_in_worker(run_id)

    @work(thread=True, exclusive=True, group="attribute", exit_on_error=False)
    def _attribute_in_worker(self, run_id: str) -> None:
        from engine.runs.attribution import attribute_run, run_trajectory, slash_culprit

        session = Session(self.db_path, self.clock)
        recorded: list[RunEvent] = []
        unsubscribe = session.events.subscribe(recorded.append)
        try:
            trajectory = run_trajectory(session, run_id)
            model = {"model_name": self.attribution_model} if self.attribution_model else {}
            attribution = attribute_run(session, run_id, trajectory=trajectory, **model)
            payload = slash_culprit(session, run_id, attribution, trajectory)
        finally:
            unsubscribe()
            session.close()
        self.post_message(AttributionRecorded(run_id, payload, recorded))

    def on_attribution_recorded(self, message: AttributionRecorded) -> None:
        """The live run and an open replay of the same run take the new events; the graph pane redraws."""
        self.attributing = None
        self._opened.pop(message.run_id, None)
        self.focus_run, self.follow_cursor, self.graph_view = message.run_id, False, "soft_idg"
        replayed = self.replay_position[0] if self.replay_position is not None else None
        for timeline in {id(t): t for t in (self.live, replayed) if t is not None}.values():
            if timeline.run_id == message.run_id:
                timeline.extend(message.events)
                timeline.forget_economy()
        shown = replayed if replayed is not None else self.live
        if isinstance(self.screen, GraphScreen):
            self.screen.redraw()
        seqs = None
        if shown is not None and shown.run_id == message.run_id:
            from engine.runs.navigation import step_seqs

            seqs = step_seqs(shown.events)
        self.notify(attribution_summary(message.run_id, message.payload, seqs), timeout=10)

    # ---- other processes' writes -------------------------------------------------------------------------
    def _exit_if_hung_up(self) -> None:
        """The terminal hung up (the SSH session or the terminal window closed): leave. Textual's input thread keeps
        polling a closed terminal at full CPU instead of ending the app."""
        if not _terminal_attached():
            self.exit()

    def _watch_database(self) -> None:
        """Another connection committed since the last look: read the newest run on a worker. Not while this
        console writes itself (a run, an attribution): the first look after it ends catches up."""
        if self.running or self.attributing:
            return
        version = self.session.data_version()
        if version != self._seen_version:
            self._seen_version = version
            self._read_latest_in_worker(self._taken)

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def _read_latest_in_worker(self, taken: int) -> None:
        session = Session(self.db_path, self.clock)
        try:
            latest = self._latest_run(session)
        finally:
            session.close()
        self.post_message(DatabaseChanged(latest, taken))

    def on_database_changed(self, message: DatabaseChanged) -> None:
        """Stored runs are read again when next shown; the live console takes the newest run, unless this console
        took events of its own since the read began (its own run is newer than what was read) or is running or
        attributing one; the current pane redraws."""
        self._opened.clear()
        latest = message.latest
        own_news = message.taken != self._taken or self.running or self.attributing
        if latest is not None and not own_news and (
                self.live is None or latest.run_id != self.live.run_id or len(latest) > len(self.live)):
            self.live = latest
        if self.is_running and self._screen_stack:  # not while the console closes
            self.screen.post_message(DatabaseChanged(latest, message.taken))

    # ---- the run worker and its events ---------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _run_in_worker(self, starter: RunStarter) -> None:
        session = Session(self.db_path, self.clock)
        unsubscribe = session.events.subscribe(self._queue_event)
        try:
            result = starter(session)
        finally:
            unsubscribe()
            session.close()
        self.post_message(RunEnded(result))

    def _queue_event(self, event: RunEvent) -> None:
        """Called on the worker thread for every event: buffer it; one message wakes the app per burst."""
        with self._pending_lock:
            self._pending.append(event)
            first = len(self._pending) == 1
        if first:
            self.post_message(EventsPending())

    def on_events_pending(self, _message: EventsPending) -> None:
        """Events wait: take them at the next frame, so a burst or a flood costs one redraw per frame."""
        if self._drain_timer is None:
            wait = max(0.001, self._drained_at + FRAME_S - time.monotonic())  # Textual's timers need > 0
            self._drain_timer = self.set_timer(wait, self._drain_after_paint)

    def _drain_after_paint(self) -> None:
        """A frame's events wait for the frame already due: a key handled since the last paint shows before the
        next batch is indexed and drawn."""
        self.call_after_refresh(self._drain)

    def _drain(self, budget: float = DRAIN_BUDGET_S) -> None:
        """Index what waits for at most `budget` seconds, then redraw the live console once."""
        self._drain_timer = None
        self._drained_at = time.monotonic()
        with self._pending_lock:
            incoming, self._pending = self._pending, []
        self._backlog.extend(incoming)
        while self._backlog and time.monotonic() - self._drained_at <= budget:
            chunk = [self._backlog.popleft() for _ in range(min(DRAIN_CHUNK, len(self._backlog)))]
            for run_id, events in _by_run(chunk):
                self._take(run_id, events)
        if self._taken - self._taken_at_freeze >= FREEZE_EVERY:
            self._taken_at_freeze = self._taken
            freeze_long_lived()
        if self._backlog:
            self._drain_timer = self.set_timer(FRAME_S, self._drain_after_paint)
        if isinstance(self.screen, ConsoleScreen) and self.live is not None:
            self.screen.follow(self.live)

    def _take(self, run_id: str, events: list[RunEvent]) -> None:
        if self.live is None or self.live.run_id != run_id:
            self.live = Timeline(run_id, (), self.tip_economy)
            self.focus_run = run_id
        self.live.extend(events)
        self._taken += len(events)
        if any(e.kind == "block_mined" for e in events):
            self.live.forget_economy()

    def _drain_all(self) -> None:
        """The run ended: every event it sent is in the console before the end is told."""
        if self._drain_timer is not None:
            self._drain_timer.stop()
        self._drain(budget=float("inf"))

    def on_run_ended(self, message: RunEnded) -> None:
        self.running = False
        self._drain_all()
        result = message.result
        warnings = result.get("warnings", [])
        # one toast: at 80x24 a toast per warning covered half the screen and pushed the finish notice off it
        self.notify("\n".join([f"run {result.get('run_id')} finished: root cause {result.get('root_cause')}",
                                *warnings]), severity="warning" if warnings else "information",
                    timeout=8 if warnings else 5)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker turns into a notification instead of a traceback."""
        if event.state == WorkerState.ERROR:
            if event.worker.group == "run":
                self.running = False
            if event.worker.group == "attribute":
                self.attributing = None
            self.notify(f"{event.worker.name or event.worker.group} failed: {event.worker.error}",
                        severity="error", timeout=8)


def _by_run(batch: list[RunEvent]) -> list[tuple[str, list[RunEvent]]]:
    groups: list[tuple[str, list[RunEvent]]] = []
    for event in batch:
        if not groups or groups[-1][0] != event.run_id:
            groups.append((event.run_id, []))
        groups[-1][1].append(event)
    return groups


def with_step_seqs(timeline: Timeline, state: dict) -> dict:
    """A graph state with the event number of each Soft-IDG step, when it holds an attribution."""
    if not state.get("attribution"):
        return state
    from engine.runs.navigation import step_seqs

    return {**state, "step_seqs": step_seqs(timeline.events)}


def attribution_summary(run_id: str, payload: dict, seqs: list[int] | None = None) -> str:
    """The notification after an attribution: who / when (as an event number when `seqs` maps the steps), the
    slash, and where to look."""
    when = payload.get("when")
    at = f"#{seqs[when]}" if seqs and isinstance(when, int) and 0 <= when < len(seqs) else f"step {when}"
    text = f"run {run_id}: blamed {payload.get('who')} at {at}"
    slashed, tx = payload.get("slashed"), payload.get("tx")
    if slashed and tx:
        text += f"; slashed {slashed['amount']} stake (tx {str(tx['tx'])[:10]}, block {tx['block']})"
    else:
        text += "; not slashed (its consensus is not known to be wrong)"
    return f"{text}. 3 shows the Soft-IDG"


def demo_starter(session: Session) -> dict:
    """The bundled demo incident through the seven agents."""
    from engine.runs.runner import run_demo

    return run_demo(session)


def _terminal_attached() -> bool:
    """Whether standard input is still an open terminal (a hung-up one answers with an I/O error)."""
    try:
        termios.tcgetattr(sys.__stdin__.fileno())
    except (termios.error, OSError, ValueError, AttributeError):
        return False
    return True
