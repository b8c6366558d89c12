"""Block explorer: blocks newest first, a block's txs, tx detail, search, Merkle proofs and chain verification."""
from __future__ import annotations

from contextlib import nullcontext

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from engine.runs.session import Session
from rca_tui.widgets.pane_bar import KeyFooter, PaneBar
from rca_tui.widgets.tables import refill, selected_key
from rca_tui.formatting import short_agent
from rca_tui.messages import ChainVerified
from rca_tui.screens.chain_detail import block_markup, clock_text, proof_markup, tx_markup, verify_markup

BLOCK_PAGE = 500


class ExplorerScreen(Screen):
    DEFAULT_CSS = """
    ExplorerScreen #search { margin: 0 1; }
    ExplorerScreen #tables { width: 1fr; min-width: 42; }
    ExplorerScreen #detail-scroll { width: 1fr; min-width: 36; }
    ExplorerScreen DataTable { height: 1fr; border: round $primary-muted; }
    ExplorerScreen DataTable:focus { border: round $primary; }
    ExplorerScreen #detail-scroll { border: round $secondary-muted; }
    ExplorerScreen #detail { padding: 0 1; }
    """
    BINDINGS = [
        Binding("slash", "search", "Search", id="explorer.search", tooltip="Find a tx by hash prefix or a block by height"),
        Binding("p", "proof", "Proof", id="explorer.proof", tooltip="Merkle proof of the selected tx, verified"),
        Binding("v", "verify", "Verify", id="explorer.verify", tooltip="Re-check the whole chain for tampering"),
        Binding("b", "cursor_block", "Cursor's block", id="explorer.cursor_block",
                tooltip="Jump to the block of the Replay cursor's event"),
        Binding("r", "reload", "Reload", id="explorer.reload", tooltip="Read the blocks again"),
        Binding("escape", "leave_search", "Leave search", id="explorer.leave_search", show=False,
                tooltip="Leave the search box (the pane's keys work again)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._detail_of: str | None = None  # the block height or tx hash the detail pane shows

    def compose(self) -> ComposeResult:
        yield PaneBar("explorer")
        yield Input(placeholder="/ search: tx hash prefix or block height", id="search", compact=True)
        with Horizontal():
            with Vertical(id="tables"):
                yield DataTable(id="blocks", cursor_type="row")
                yield DataTable(id="txs", cursor_type="row")
            with VerticalScroll(id="detail-scroll"):
                yield Static("Select a block.", id="detail")
        yield KeyFooter()

    @property
    def session(self) -> Session:
        return self.app.session

    def on_mount(self) -> None:
        self.sub_title = "explorer"
        self.query_one("#blocks", DataTable).add_columns("height", "hash", "txs", "time")
        self.query_one("#txs", DataTable).add_columns("tx", "type", "sender")
        self.query_one("#blocks", DataTable).border_title = "Blocks (newest first)"
        self.query_one("#txs", DataTable).border_title = "Transactions"
        self.query_one("#detail-scroll").border_title = "Detail"

    def on_screen_resume(self) -> None:
        target, self.app.explorer_target = self.app.explorer_target, None
        blocks = self.query_one("#blocks", DataTable)
        with blocks.prevent(DataTable.RowHighlighted) if target is not None else nullcontext():
            self.action_reload()  # with a target, no highlight of the top block lands after it to redraw the detail
        blocks.focus()
        if target is not None:
            self.go_to(*target)

    def go_to(self, kind: str, value) -> None:
        """Another pane asked for a tx (shown with its verified Merkle proof) or a block."""
        if kind == "tx":
            self.select_tx(str(value))
            self.action_proof()
        else:
            self.select_block(int(value))

    def action_leave_search(self) -> None:
        """Esc in the search box: back to the tables, so the pane's keys work again."""
        self.query_one("#search", Input).value = ""
        self.query_one("#blocks", DataTable).focus()

    def action_cursor_block(self) -> None:
        """The block of the Replay cursor's event."""
        position = self.app.replay_position
        block = position[0].block_at(position[1]) if position is not None else None
        if block is None:
            self.notify("no replay cursor on a block: open a run in Replay (4) and step into it", severity="warning")
            return
        self.select_block(block)

    # ---- tables --------------------------------------------------------------------------------------------
    def on_database_changed(self, _message) -> None:
        """Another process mined blocks (the app's data_version watch): they join the list without a key; the
        reader's block, tx, focus and detail stay as they were (blocks never change once mined)."""
        self.action_reload()

    def action_reload(self) -> None:
        """Read the blocks again; the selected block stays selected (and its txs and the detail as they are)."""
        refill(self.query_one("#blocks", DataTable),
               (((row["height"], row["hash"][:10], row["tx_count"], clock_text(row["timestamp"])), str(row["height"]))
                for row in self.session.blocks(BLOCK_PAGE)))

    def on_descendant_focus(self, event) -> None:
        """Tab into the transactions: the detail turns to the selected tx, unless it already shows it (or its
        proof)."""
        if getattr(event.widget, "id", None) == "txs" and (tx_hash := self.selected_tx()) \
                and self._detail_of != tx_hash:
            self.show_tx(tx_hash)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        if event.data_table.id == "blocks":
            self.show_block(int(event.row_key.value))
        elif event.data_table.id == "txs" and event.data_table.has_focus:
            self.show_tx(event.row_key.value)

    def show_block(self, height: int) -> None:
        block = self.session.block(height)
        if block is None:
            self.notify(f"no block at height {height} (tip is {self.session.height})", severity="warning")
            return
        self._show_detail(block_markup(block), str(height))
        txs = self.query_one("#txs", DataTable)
        names = self.session.names()
        reverted = self.session.reverted_txs(height)
        with txs.prevent(DataTable.RowHighlighted):  # the new first row is not the reader's choice of a tx
            txs.clear()
            for tx in block.transactions:
                kind = Text(f"✗ {tx.tx_type}", style="bold red") if tx.hash in reverted else tx.tx_type
                txs.add_row(tx.hash[:8], kind, short_agent(names.get(tx.sender, tx.sender[:8])), key=tx.hash)
        txs.border_title = f"Transactions of #{height}" + (f" · ✗ {len(reverted)} reverted" if reverted else "")

    def show_tx(self, tx_hash: str) -> None:
        found = self.session.tx(tx_hash)
        if found is None:
            self.notify(f"no transaction {tx_hash}", severity="warning")
            return
        self._show_detail(tx_markup(*found, self.session.names()), tx_hash)

    def _show_detail(self, markup: str, about: str | None) -> None:
        """The detail pane shows `markup`, about a block height or a tx hash (None: neither)."""
        self._detail_of = about
        self.query_one("#detail", Static).update(markup)

    # ---- search, proof, verify -----------------------------------------------------------------------------
    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        query = event.value.strip().lower().lstrip("#")
        self.query_one("#blocks", DataTable).focus()  # a found tx / block takes the focus below
        if query.isdigit():
            self.select_block(int(query))
        elif query:
            self.find_tx(query)

    def select_block(self, height: int) -> None:
        blocks = self.query_one("#blocks", DataTable)
        if str(height) in blocks.rows:
            with blocks.prevent(DataTable.RowHighlighted):  # shown here, not again when the message lands
                blocks.move_cursor(row=blocks.get_row_index(str(height)))
            blocks.focus()
        self.show_block(height)

    def find_tx(self, prefix: str) -> None:
        matches = self.session.find_txs(prefix)
        if not matches:
            self.notify(f"no transaction hash starts with {prefix}", severity="warning")
        elif len(matches) > 1:
            self.notify(f"{len(matches)} transactions start with {prefix}; type more of the hash", severity="warning")
            self._show_detail("\n".join(["[b]matches[/b]", *matches]), None)
        else:
            self.select_tx(matches[0])

    def select_tx(self, tx_hash: str) -> None:
        height = self.session.tx(tx_hash)[2]
        self.select_block(height)
        txs = self.query_one("#txs", DataTable)
        with txs.prevent(DataTable.RowHighlighted):
            txs.move_cursor(row=txs.get_row_index(tx_hash))
        txs.focus()
        self.show_tx(tx_hash)

    def selected_tx(self) -> str | None:
        return selected_key(self.query_one("#txs", DataTable))

    def action_proof(self) -> None:
        tx_hash = self.selected_tx()
        if tx_hash is None:
            self.notify("select a transaction first (Tab to the transactions table)", severity="warning")
            return
        found = self.session.tx(tx_hash)
        proof = proof_markup(*self.session.proof(tx_hash))
        self._show_detail(proof + ("\n\n" + tx_markup(*found, self.session.names()) if found else ""), tx_hash)

    def action_verify(self) -> None:
        self.notify("verifying the chain…", timeout=2)
        self._verify_in_worker()

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def _verify_in_worker(self) -> None:
        session = Session(self.app.db_path, self.app.clock)
        try:
            self.post_message(ChainVerified(session.verify().to_dict()))
        finally:
            session.close()

    def on_chain_verified(self, message: ChainVerified) -> None:
        report = message.report
        self._show_detail(verify_markup(report), None)
        if report["ok"]:
            self.notify(f"chain verified: {report['blocks']} blocks, no tampering")
        else:
            self.notify(f"chain tampered: {len(report['findings'])} findings", severity="error", timeout=8)
