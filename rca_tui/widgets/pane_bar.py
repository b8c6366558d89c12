"""The top line of every pane: the five panes with their number keys (the current one highlighted) and the keys that
work everywhere, so the footer below has room for the pane's own keys at 80 columns."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Footer, Static

PANES = (("1", "Console", "console"), ("2", "Explorer", "explorer"), ("3", "Graph", "graph"),
         ("4", "Replay", "replay"), ("5", "Runs", "runs"))  # default key, name, mode (binding id app.<mode>)
GLOBAL_KEYS = (("app.help", "F1", "help"), ("app.actions", "^P", "actions"), ("app.quit", "q", "quit"))


class PaneBar(Static):
    DEFAULT_CSS = """
    PaneBar { height: 1; background: $panel; color: $text-muted; }
    """

    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.current = current

    def on_mount(self) -> None:
        self.update(self.line())

    def _key(self, binding_id: str, default: str) -> str:
        key_of = getattr(self.app, "key_of", None)  # the user's keymap, when the app has one
        return key_of(binding_id) if key_of else default

    def line(self) -> Text:
        text = Text()
        for key, name, mode in PANES:
            style = "reverse bold" if mode == self.current else ""
            text.append(f" {self._key(f'app.{mode}', key)} {name} ", style=style)
        text.append(" " + "  ".join(f"{self._key(binding_id, key)} {what}" for binding_id, key, what in GLOBAL_KEYS))
        return text


def KeyFooter() -> Footer:
    """The footer of a pane: only that pane's keys, compact (the palette key is in the PaneBar)."""
    return Footer(compact=True, show_command_palette=False)
