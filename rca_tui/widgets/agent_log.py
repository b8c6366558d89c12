"""The agent log: a `Log` (fast, plain lines) whose agent and kind columns are coloured by the theme."""
from __future__ import annotations

import re

from rich.highlighter import Highlighter
from rich.text import Text
from textual.widgets import Log

from rca_tui.formatting import LOG_WINDOW
from rca_tui.widgets.palette import agent_style, theme_style

LINE = re.compile(r"^#\S+\s+(?P<agent>\S+)\s+(?P<kind>\S+)")
MAX_LINES = LOG_WINDOW  # once full, a new line keeps the virtual size: no layout pass per line


class AgentHighlighter(Highlighter):
    def __init__(self, log: Log) -> None:
        self.log = log

    def highlight(self, text: Text) -> None:
        match = LINE.match(text.plain)
        if match is None:
            return
        app = self.log.app
        text.stylize(agent_style(app, match["agent"]), *match.span("agent"))
        kind_variable = "error" if match["kind"] in ("rejected", "failed", "error") else "foreground-muted"
        text.stylize(theme_style(app, kind_variable), *match.span("kind"))
        if " reverted " in text.plain:
            text.stylize(theme_style(app, "error"), match.end("kind"))


class AgentLog(Log):
    """New lines keep the reader's scroll position when they have scrolled up (Log does this when not at the end)."""

    DEFAULT_CSS = """
    AgentLog { border: round $primary-muted; border-title-color: $text-primary; }
    AgentLog:focus { border: round $primary; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(highlight=True, max_lines=MAX_LINES, **kwargs)
        self.highlighter = AgentHighlighter(self)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._repaint())

    def show(self, lines: list[str]) -> None:
        """Replace every line (a new filter, or a replay seek)."""
        self.clear()
        self.write_lines(lines, scroll_end=False)
        self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)

    def append(self, lines: list[str]) -> None:
        if lines:
            self.write_lines(lines)

    def _repaint(self) -> None:
        self._render_line_cache.clear()
        self.refresh()
