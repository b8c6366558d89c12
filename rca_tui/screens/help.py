"""F1: every key of the screen underneath, where it works and what it does."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from rca_tui.screens.commands import screen_actions

INTRO = ("rca-tui: seven agents find a root cause on a signed ledger. Keys 1-5 switch panes, Ctrl+P finds any "
         "action by name, Tab moves between panes of a screen. Esc closes this help.")


class HelpScreen(ModalScreen):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 100%; max-width: 120; height: auto; max-height: 100%; border: thick $primary;
                            background: $surface; }
    HelpScreen Static { padding: 0 1; color: $text-muted; }
    HelpScreen #help-keys { height: auto; max-height: 70vh; }
    HelpScreen #help-what { height: auto; color: $text; }
    """
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="help.close", tooltip="Close the help")]

    def __init__(self, underneath: Screen) -> None:
        super().__init__()
        self.underneath = underneath

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(INTRO)
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
            yield Static(id="help-what")

    def on_mount(self) -> None:
        self.query_one(Vertical).border_title = f"Help · {type(self.underneath).__name__}"
        table = self.query_one(DataTable)
        table.add_columns("key", "action", "where", "what it does")
        for action in screen_actions(self.underneath):
            table.add_row(self.app.get_key_display(action.binding), action.title, action.where, action.help)
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The whole description of the highlighted key, wrapped (at 80 columns the table cuts long ones)."""
        key, title, where, what = event.data_table.get_row_at(event.cursor_row)
        self.query_one("#help-what", Static).update(f"{key}  {title} ({where}): {what}")
