"""Votes on the current proposal: for / against / abstain by weight as a terminal bar chart."""
from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.markup import escape
from textual.widget import Widget

from rca_tui.formatting import short_agent

OPTION_COLOURS = {"for": "$success", "against": "$error", "abstain": "$warning"}
OUTCOME_COLOURS = {"passed": "$success", "rejected": "$error", "expired": "$warning", "open": "$text-muted"}
LABEL_WIDTH = 8
VALUE_WIDTH = 6


class VoteChart(Widget):
    DEFAULT_CSS = """
    VoteChart { border: round $accent-muted; border-title-color: $text-accent; padding: 0 1; height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.votes: dict[str, Any] | None = None

    def on_mount(self) -> None:
        self.border_title = "Votes"

    def show(self, votes: dict[str, Any] | None) -> None:
        if votes != self.votes:
            self.votes = votes
            self.refresh()

    def render(self) -> Content:
        return Content.from_markup("\n".join(vote_markup(self.votes, max(4, self.content_size.width))))


def vote_markup(votes: dict[str, Any] | None, width: int) -> list[str]:
    if votes is None:
        return ["[dim]no proposal yet[/]", "", "", "", ""]
    bar_width = max(1, width - LABEL_WIDTH - VALUE_WIDTH - 1)
    scale = max(sum(votes[o] for o in OPTION_COLOURS), 1e-9)
    lines = [f"[bold]{escape(str(votes['root_cause']))}[/] [dim]by {escape(short_agent(votes['proposer']))}[/]"]
    for option, colour in OPTION_COLOURS.items():
        filled = round(bar_width * votes[option] / scale)
        lines.append(f"{option:<{LABEL_WIDTH}}[{colour}]{'█' * filled}[/][dim]{'░' * (bar_width - filled)}[/]"
                     f" {votes[option]:>{VALUE_WIDTH - 1}.2f}")
    outcome = votes["outcome"]
    lines.append(f"[{OUTCOME_COLOURS.get(outcome, '$text')}]{outcome}[/] [dim]{len(votes['voters'])} votes[/]")
    return lines
