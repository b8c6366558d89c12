"""The four panes of a run (agent log, SOP machine, leaderboard, votes) drawn from a `Timeline` at a cursor.

The live console and the replay both use it: live shows the cursor at the end, replay anywhere."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container

from engine.agents.roles import AGENT_KEYS
from engine.runs.timeline import KIND_GROUPS, LogFilter, Timeline
from rca_tui.formatting import LOG_WINDOW, line_at, log_lines
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
        Binding("a", "next_agent", "Agent", id="log.agent", tooltip="Show only the next agent's lines"),
        Binding("k", "next_kind", "Kind", id="log.kind",
                tooltip="Show only thoughts / actions / observations / chain / run lines"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.log_filter = LogFilter()
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
        self.query_one(AgentLog).show(log_lines(timeline, cursor, self.log_filter) if timeline else [])
        self._show_panes()

    def advance(self, cursor: int) -> None:
        """The cursor moved forward from `self.cursor`: append the new lines, redraw the small panes."""
        assert self.timeline is not None
        passing = [p for p in range(self.cursor, cursor) if self.log_filter.accepts(self.timeline.events[p])]
        self.cursor = cursor
        self.query_one(AgentLog).append([line_at(self.timeline, p) for p in passing[-LOG_WINDOW:]])
        self._show_panes()

    def _show_panes(self) -> None:
        timeline = self.timeline
        self.query_one(SopDiagram).show(timeline.sop(self.cursor) if timeline else None)
        self.query_one(VoteChart).show(timeline.votes(self.cursor) if timeline else None)
        self.query_one(Leaderboard).show(timeline.leaderboard(timeline.block_at(self.cursor)) if timeline else [])

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
        self.query_one(AgentLog).border_title = f"Agent log · {agent} · {group}"


def _next(choices: tuple, current):
    return choices[(choices.index(current) + 1) % len(choices)]
