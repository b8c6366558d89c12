"""The SOP state machine: the five states as a diagram with the current one highlighted, then the transition
history with block heights (a rejected proposal shows as a step back) and every reverted or refused tx."""
from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.markup import escape
from textual.widgets import Static

HISTORY_LINES = 4
REVERT_LINES = 2
RECENT = max(HISTORY_LINES, REVERT_LINES)
"""Transitions and reverts the diagram needs (`Timeline.sop(cursor, RECENT)`)."""


class SopDiagram(Static):
    DEFAULT_CSS = """
    SopDiagram { border: round $secondary-muted; border-title-color: $text-secondary; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.border_title = "SOP"
        self.markup: str | None = None
        self.show(None)

    def show(self, sop: dict[str, Any] | None) -> None:
        markup = "\n".join(sop_markup(sop))
        if markup != self.markup:  # most events do not move the SOP: skip the repaint
            self.markup = markup
            self.update(Content.from_markup(markup), layout=False)  # size fixed by the grid


def sop_markup(sop: dict[str, Any] | None) -> list[str]:
    if not sop or sop.get("state") is None:
        return ["[dim]no incident on chain yet[/]"]
    current = sop["states"].index(sop["state"])
    lines = [_state_line(name, index, current) for index, name in enumerate(sop["states"])]
    return lines + _history_lines(sop["history"], sop["states"]) + _revert_lines(sop["reverts"])


def _state_line(name: str, index: int, current: int) -> str:
    connector = "┌" if index == 0 else ("└" if index == 4 else "├")
    if index == current:
        return f"{connector}▶ [reverse bold $accent] {name} [/]"
    if index < current:
        return f"{connector}─ [$success]✓ {name}[/]"
    return f"{connector}─ [dim]· {name}[/]"


def _history_lines(history: list[dict], order: list[str]) -> list[str]:
    lines = []
    for step in history[-HISTORY_LINES:]:
        back = step["from"] in order and step["to"] in order and order.index(step["to"]) < order.index(step["from"])
        arrow = "[$warning]↺[/]" if back else "→"
        lines.append(f"[dim]#{step['height']}[/] {escape(_abbrev(step['from']))} {arrow} "
                     f"{escape(_abbrev(step['to']))}")
    return lines


def _revert_lines(reverts: list[dict]) -> list[str]:
    return [f"[$error]✗ #{r['height'] if r['height'] is not None else '-'} {escape(str(r['tx_type']))}: "
            f"{escape(str(r['reason']))}[/]" for r in reverts[-REVERT_LINES:]]


def _abbrev(state: str | None) -> str:
    return {"Root_Cause_Proposed": "Proposed", "Data_Collected": "Collected"}.get(state or "", state or "-")
