"""The four panes of a run (agent log, SOP machine, leaderboard, votes) drawn from a `Timeline` at a cursor.

The live console and the replay both use it: live shows the cursor at the end, replay anywhere."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container

from engine.agents.roles import AGENT_KEYS
from engine.runs.timeline import KIND_GROUPS, LogFilter, Timeline
from rca_tui.formatting import LOG_WINDOW, line_at
from rca_tui.widgets.agent_log import AgentLog
from rca_tui.widgets.leaderboard import Leaderboard
from rca_tui.widgets.sop_diagram import SopDiagram
from rca_tui.widgets.vote_chart import VoteChart

AGENT_CHOICES = (None, *AGENT_KEYS, "system")
GROUP_CHOICES = (None, *KIND_GROUPS)


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
        self.query_one(AgentLog).show([line_at(timeline, p) for p in self.positions()] if timeline else [])
        self._show_panes()

    def positions(self, limit: int = LOG_WINDOW) -> list[int]:
        """Positions of the log lines shown at the cursor: the filters', and the text's when one is set."""
        if self.timeline is None:
            return []
        if not self.text:
            return list(self.timeline.log_positions(self.cursor, self.log_filter, limit))
        every = self.timeline.log_positions(self.cursor, self.log_filter, len(self.timeline) or 1)
        return [p for p in every if self._has_text(p)][-limit:]

    def _has_text(self, position: int) -> bool:
        return self.text.lower() in line_at(self.timeline, position).lower()

    def advance(self, cursor: int) -> None:
        """The cursor moved forward from `self.cursor`: append the new lines, redraw the small panes."""
        assert self.timeline is not None
        passing = [p for p in range(self.cursor, cursor) if self.log_filter.accepts(self.timeline.events[p])
                   and (not self.text or self._has_text(p))]
        self.cursor = cursor
        self.query_one(AgentLog).append([line_at(self.timeline, p) for p in passing[-LOG_WINDOW:]])
        self._show_panes()

    def _show_panes(self) -> None:
        timeline = self.timeline
        self.query_one(SopDiagram).show(timeline.sop(self.cursor) if timeline else None)
        self.query_one(VoteChart).show(timeline.votes(self.cursor) if timeline else None)
        self.query_one(Leaderboard).show(timeline.leaderboard(timeline.block_at(self.cursor)) if timeline else [])

    # ---- the full event, the text filter -------------------------------------------------------------------
    def action_open_event(self) -> None:
        """The newest line shown (the cursor's event in Replay, the latest in the live console), in full."""
        from rca_tui.screens.event_detail import EventScreen

        shown = self.positions(1)
        if not shown:
            self.notify("no event here yet", severity="warning")
            return
        self.app.push_screen(EventScreen(self.timeline, shown[-1]))

    def action_text_filter(self) -> None:
        from rca_tui.screens.dialogs import PromptScreen

        self.app.push_screen(PromptScreen("Show only log lines containing (empty: every line)", "ts-route",
                                          self.text), self.set_text)

    def set_text(self, text: str | None) -> None:
        if text is None:
            return
        self.text = text.strip()
        self._title_log()
        self.show(self.timeline, self.cursor)

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
        self.show(self.timeline, self.cursor)

    def _title_log(self) -> None:
        agent = self.log_filter.agent or "all agents"
        group = self.log_filter.group or "all kinds"
        text = f" · /{self.text}" if self.text else ""
        self.query_one(AgentLog).border_title = (f"Agent log · {self.app.key_of('log.agent')}:{agent} · "
                                                  f"{self.app.key_of('log.kind')}:{group}{text}")


def _next(choices: tuple, current):
    return choices[(choices.index(current) + 1) % len(choices)]
