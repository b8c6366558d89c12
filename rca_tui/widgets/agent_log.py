"""The agent log, virtual: it holds the positions of the events it lists, not their lines. Only the rows in view are
formatted and styled (and kept in a small cache), so a flood of events, or a run of 100,000, costs what a screenful
costs; new events never make the screen lay itself out again."""
from __future__ import annotations

import re
from typing import Sequence

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.runs.timeline import Timeline
from rca_tui.formatting import line_at
from rca_tui.widgets.palette import agent_style, theme_style

LINE = re.compile(r"^#\S+\s+(?P<agent>\S+)\s+(?P<kind>\S+)")
CACHED_ROWS = 512


class AgentLog(ScrollView, can_focus=True):
    """New lines keep the reader's place when they have scrolled up, and follow the end when they have not."""

    DEFAULT_CSS = """
    AgentLog { border: round $primary-muted; border-title-color: $text-primary; overflow-y: scroll;
               overflow-x: hidden; }
    AgentLog:focus { border: round $primary; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.timeline: Timeline | None = None
        self.positions: Sequence[int] = ()
        self._rows: LRUCache[tuple, Strip] = LRUCache(CACHED_ROWS)
        self._style = Style()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._repaint())

    @property
    def lines(self) -> list[str]:
        """Every line the log lists (formatting them all: for tests and copying, not for drawing)."""
        return [line_at(self.timeline, p) for p in self.positions] if self.timeline else []

    def show(self, timeline: Timeline | None, positions: Sequence[int]) -> None:
        """List these events (a new filter, a replay seek) and go to the end."""
        if timeline is not self.timeline:
            self._rows.clear()
        self.timeline, self.positions = timeline, positions
        self._resize()
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.refresh()

    def grow(self, positions: Sequence[int]) -> None:
        """The list grew at its end: follow it when the reader is at the end, else keep their place."""
        following = self.is_vertical_scroll_end
        self.positions = positions
        self._resize()
        if following:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.refresh()

    def bottom_position(self) -> int | None:
        """The event of the lowest row in view (the newest one when the log follows the end)."""
        if not self.positions:
            return None
        row = min(len(self.positions), round(self.scroll_y) + self.scrollable_content_region.height) - 1
        return self.positions[max(0, row)]

    def _resize(self) -> None:
        """Set the scrollable height without a layout pass: only the scrollbar changes (it is always shown)."""
        size = Size(self.scrollable_content_region.width, len(self.positions))
        if size != self.virtual_size:
            self.set_reactive(AgentLog.virtual_size, size)
            self._scroll_update(size)

    def render_lines(self, crop):
        self._style = self.rich_style  # once per paint, not per row
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = round(self.scroll_y) + y
        if self.timeline is None or row >= len(self.positions):
            return Strip.blank(width, self._style)
        key = (self.positions[row], width, self._style)
        strip = self._rows.get(key)
        if strip is None:
            strip = self._render_row(line_at(self.timeline, self.positions[row]), width)
            self._rows[key] = strip
        return strip.apply_offsets(0, row)

    def _render_row(self, line: str, width: int) -> Strip:
        """`#seq agent kind what`: the agent in its colour, the kind muted (red when it failed), a reverted tx red;
        cut with `…` at the width (Enter opens the whole event)."""
        base, shown = self._style, line
        if cell_len(line) > width > 1:
            shown = set_cell_size(line, width - 1) + "…"
        match = LINE.match(shown)
        if match is None:
            segments = [Segment(shown, base)]
        else:
            app = self.app
            (agent_start, agent_end), (kind_start, kind_end) = match.span("agent"), match.span("kind")
            failed = match["kind"] in ("rejected", "failed", "error")
            kind_style = theme_style(app, "error" if failed else "foreground-muted")
            rest_style = base + theme_style(app, "error") if " reverted " in line else base
            segments = [Segment(shown[:agent_start], base),
                        Segment(shown[agent_start:agent_end], base + agent_style(app, match["agent"])),
                        Segment(shown[agent_end:kind_start], base),
                        Segment(shown[kind_start:kind_end], base + kind_style),
                        Segment(shown[kind_end:], rest_style)]
        return Strip(segments).extend_cell_length(width, base)

    def _repaint(self) -> None:
        self._rows.clear()
        self.refresh()

    def on_resize(self) -> None:
        self._resize()
