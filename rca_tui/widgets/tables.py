"""DataTable helpers the panes share: the row under the cursor, and refilling a table without losing it."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Iterable, Sequence

from textual.widgets import DataTable


def selected_key(table: DataTable) -> str | None:
    """The key of the row under the table's cursor (None when the table is empty)."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


def refill(table: DataTable, rows: Iterable[tuple[Sequence, str]]) -> None:
    """Replace the table's rows (cells, key). The row under the cursor stays under it while it is still listed, and
    then no RowHighlighted is posted: the reader's selection did not change, so what it shows stays."""
    selected, rows = selected_key(table), list(rows)
    keeps = selected is not None and any(key == selected for _, key in rows)
    with table.prevent(DataTable.RowHighlighted) if keeps else nullcontext():
        table.clear()
        for cells, key in rows:
            table.add_row(*cells, key=key)
        if keeps:
            table.move_cursor(row=table.get_row_index(selected))
