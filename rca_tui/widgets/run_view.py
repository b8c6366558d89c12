"""The four panes of a run (agent log, SOP machine, leaderboard, votes) drawn from a `Timeline` at a cursor.

The live console and the replay both use it: live shows the cursor at the end, replay anywhere."""
from __future__ import annotations

import time
from bisect import bisect_left
from typing import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.timer import Timer

from engine.agents.roles import AGENT_KEYS
from engine.runs.timeline import KIND_GROUPS, LogFilter, Timeline
from rca_tui.formatting import line_at
from rca_tui.widgets.agent_log import AgentLog
from rca_tui.widgets.leaderboard import Leaderboard
from rca_tui.widgets.sop_diagram import RECENT, SopDiagram
from rca_tui.widgets.vote_chart import VoteChart

AGENT_CHOICES = (None, *AGENT_KEYS, "system")
GROUP_CHOICES = (None, *KIND_GROUPS)
PANES_EVERY_S = 0.2
"""While a run streams, the SOP, votes and leaderboard (summaries nobody reads 30 times a second; the votes alone
cost a third of a frame) redraw at most this often; the log follows every frame, and the end of a run draws all."""


class RunView(Container):
    DEFAULT_CSS = """
    RunView { layout: grid; grid-size: 2 2; grid-columns: 1fr 36; grid-rows: 1fr 11; }
    RunView AgentLog { height: 100%; }
    RunView SopDiagram { height: 100%; }
    RunView VoteChart { height: 100%; }
    """
    BINDINGS = [
        Binding("enter", "open_event", "Event", id="log.event", key_display="⏎",
                tooltip="The full event at the cursor: thought, tool call, observation JSON, the tx it led to"),
        Binding("slash", "text_filter", "Filter", id="log.filter", key_display="/",
                tooltip="Show only lines containing a text (empty: all)"),
        Binding("a", "next_agent", "Agent", id="log.agent", show=False, tooltip="Show only the next agent's lines"),
        Binding("k", "next_kind", "Kind", id="log.kind", show=False,
                tooltip="Show only thoughts / actions / observations / chain / run lines"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.log_filter = LogFilter()
        self.text = ""  # `/`: only lines containing this (case-insensitive)
        self.timeline: Timeline | None = None
        self.cursor = 0
        self._listed_for: tuple | None = None  # (timeline, filter, text) that `_listed` holds the events of
        self._listed: list[int] = []
        self._scanned = 0  # `_listed` is complete below this position
        self._pane_keys: dict[str, tuple] = {}  # what the SOP and the votes were last drawn from
        self._panes_drawn_at = 0.0
        self._panes_timer: Timer | None = None  # a redraw of the small panes, due while a run streams

    def compose(self) -> ComposeResult:
        yield AgentLog(id="agent-log")
        yield SopDiagram(id="sop")
        yield Leaderboard(id="leaderboard")
        yield VoteChart(id="votes")

    def on_mount(self) -> None:
        self._title_log()

    # ---- drawing -------------------------------------------------------------------------------------------
    def show(self, timeline: Timeline | None, cursor: int) -> None:
        """Everything at `cursor` (a seek, a new filter, a screen coming back)."""
        self.timeline, self.cursor = timeline, cursor
        self._list_log()
        self._show_panes()

    def _list_log(self) -> None:
        """The log anew at the cursor (the small panes do not depend on the log's filters)."""
        self.query_one(AgentLog).show(self.timeline, self.positions())

    def advance(self, cursor: int, streaming: bool = False) -> None:
        """The cursor moved forward from `self.cursor`: the log grows, the small panes redraw (while a run
        streams, at most every PANES_EVERY_S)."""
        self.cursor = cursor
        self.query_one(AgentLog).grow(self.positions())
        if not streaming:
            self._show_panes()
        elif self._panes_timer is None:
            wait = max(0.001, self._panes_drawn_at + PANES_EVERY_S - time.monotonic())  # Textual's timers need > 0
            self._panes_timer = self.set_timer(wait, self._show_panes_when_due)

    def _show_panes_when_due(self) -> None:
        self._panes_timer = None
        self._show_panes()

    def positions(self) -> Sequence[int]:
        """Positions of the events the log lists at the cursor: every one, or the filters' and the text's. A
        filtered list is kept and extended as the cursor moves on, so a streaming run is never scanned twice."""
        if self.timeline is None:
            return ()
        if self.log_filter == LogFilter() and not self.text:
            return range(self.cursor)
        wanted = (self.timeline, self.log_filter, self.text)
        if self._listed_for != wanted:
            indexed = self.timeline.log_positions(self.cursor, self.log_filter, self.cursor or 1)
            self._listed_for, self._scanned = wanted, self.cursor
            self._listed = [p for p in indexed if self._has_text(p)] if self.text else list(indexed)
        if self.cursor > self._scanned:
            self._listed += [p for p in range(self._scanned, self.cursor)
                             if self.log_filter.accepts(self.timeline.events[p]) and self._has_text(p)]
            self._scanned = self.cursor
        return self._listed[:bisect_left(self._listed, self.cursor)]

    def _has_text(self, position: int) -> bool:
        return not self.text or self.text.lower() in line_at(self.timeline, position).lower()

    def _show_panes(self) -> None:
        """The SOP, the votes and the leaderboard at the cursor; the SOP and the votes are rebuilt only when an
        event they are made of passed the cursor (a long run's SOP history is long; most events touch neither)."""
        timeline, cursor = self.timeline, self.cursor
        self._panes_drawn_at = time.monotonic()
        if timeline is None:
            self._pane_keys = {}
            self.query_one(SopDiagram).show(None)
            self.query_one(VoteChart).show(None)
            self.query_one(Leaderboard).show([])
            return
        if self._changed("sop", timeline.by_kind.get("sop_transition", ()), timeline.failures, timeline.openings):
            self.query_one(SopDiagram).show(timeline.sop(cursor, RECENT))
        if self._changed("votes", *(timeline.by_kind.get(kind, ()) for kind in ("proposal", "vote_cast", "consensus"))):
            self.query_one(VoteChart).show(timeline.votes(cursor))
        self.query_one(Leaderboard).show(timeline.leaderboard(timeline.block_at(cursor)))

    def _changed(self, pane: str, *positions: Sequence[int]) -> bool:
        """Whether the events of `positions` before the cursor differ from when `pane` was last drawn."""
        key = (self.timeline, *(bisect_left(p, self.cursor) for p in positions))
        changed, self._pane_keys[pane] = self._pane_keys.get(pane) != key, key
        return changed

    # ---- the full event, the text filter -------------------------------------------------------------------
    def action_open_event(self) -> None:
        """The lowest line in view, in full: the cursor's event in Replay and the latest one live, unless the reader
        scrolled up to an older one."""
        from rca_tui.screens.event_detail import EventScreen

        shown = self.query_one(AgentLog).bottom_position()
        if shown is None:
            self.notify("no event here yet", severity="warning")
            return
        self.app.push_screen(EventScreen(self.timeline, shown))

    def action_text_filter(self) -> None:
        from rca_tui.screens.dialogs import PromptScreen

        self.app.push_screen(PromptScreen("Show only log lines containing (empty: every line)", "ts-route",
                                          self.text), self.set_text)

    def set_text(self, text: str | None) -> None:
        if text is None:
            return
        self.text = text.strip()
        self._title_log()
        self._list_log()

    # ---- filters -------------------------------------------------------------------------------------------
    def action_next_agent(self) -> None:
        agent = _next(AGENT_CHOICES, self.log_filter.agent)
        self._set_filter(LogFilter(agent, self.log_filter.group))

    def action_next_kind(self) -> None:
        group = _next(GROUP_CHOICES, self.log_filter.group)
        self._set_filter(LogFilter(self.log_filter.agent, group))

    def _set_filter(self, log_filter: LogFilter) -> None:
        self.log_filter = log_filter
        self._title_log()
        self._list_log()

    def _title_log(self) -> None:
        agent = self.log_filter.agent or "all agents"
        group = self.log_filter.group or "all kinds"
        text = f" · /{self.text}" if self.text else ""
        self.query_one(AgentLog).border_title = (f"Agent log · {self.app.key_of('log.agent')}:{agent} · "
                                                  f"{self.app.key_of('log.kind')}:{group}{text}")


def _next(choices: tuple, current):
    return choices[(choices.index(current) + 1) % len(choices)]
