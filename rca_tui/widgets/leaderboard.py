"""The token leaderboard: one row per agent, cells updated in place, sortable by any column."""
from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable

from rca_tui.formatting import short_agent

COLUMNS = (("agent", "agent"), ("balance", "bal"), ("stake", "stake"), ("reputation", "rep"),
           ("vote_weight", "wt"))
SORTABLE = ("vote_weight", "balance", "stake", "reputation", "agent")


class Leaderboard(DataTable):
    DEFAULT_CSS = """
    Leaderboard { border: round $success-muted; border-title-color: $text-success; height: 1fr; }
    Leaderboard:focus { border: round $success; }
    """
    BINDINGS = [Binding("s", "next_sort", "Sort", id="leaderboard.sort", tooltip="Sort the leaderboard by the next column")]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.sort_field = SORTABLE[0]
        self.shown: dict[str, dict] = {}

    def on_mount(self) -> None:
        for field, label in COLUMNS:
            self.add_column(label, key=field)
        self._set_title()

    def show(self, rows: list[dict]) -> None:
        """Add unseen agents, update changed cells in place, then keep the chosen order."""
        changed = [row for row in rows if self.shown.get(row["agent"]) != row]
        for row in changed:
            if row["agent"] not in self.rows:
                self.add_row(*(_cell(field, row[field]) for field, _ in COLUMNS), key=row["agent"])
            else:
                self._update_row(row)
            self.shown[row["agent"]] = row
        if changed:
            self._sort()

    def _update_row(self, row: dict) -> None:
        before = self.shown[row["agent"]]
        for field, _ in COLUMNS[1:]:
            if before[field] != row[field]:
                self.update_cell(row["agent"], field, _cell(field, row[field]), update_width=False)

    def action_next_sort(self) -> None:
        self.sort_field = SORTABLE[(SORTABLE.index(self.sort_field) + 1) % len(SORTABLE)]
        self._sort()
        self._set_title()

    def _sort(self) -> None:
        if self.row_count:
            self.sort(self.sort_field, key=_sort_key, reverse=self.sort_field != "agent")

    def _set_title(self) -> None:
        self.border_title = f"Leaderboard ↓{dict(COLUMNS)[self.sort_field]}"


def _cell(field: str, value) -> str | float | int:
    if field == "agent":
        return short_agent(value)
    return round(value, 2) if isinstance(value, float) else value


def _sort_key(value):
    return value if isinstance(value, (int, float)) else str(value)
