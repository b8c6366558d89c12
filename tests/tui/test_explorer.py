"""The explorer: blocks newest first, block and tx detail, search, a real Merkle proof, chain verification."""
from __future__ import annotations

import sqlite3

from textual.widgets import Input

from tests.tui.helpers import settle, text_of


async def open_explorer(pilot):
    await pilot.press("2")
    await settle(pilot)


async def test_blocks_are_listed_newest_first_with_the_selected_blocks_txs(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await open_explorer(pilot)
        blocks = text_of(app, "#blocks").splitlines()
        assert blocks[0].startswith("17 ") and blocks[-1].startswith("0 ")
        assert text_of(app, "#detail").startswith("Block #17")
        assert "incident.resolve" in text_of(app, "#txs")  # the authority signs the run's result


async def search(pilot, query: str) -> None:
    await pilot.press("slash")
    pilot.app.screen.query_one(Input).value = query
    await pilot.press("enter")
    await settle(pilot)


async def test_search_by_height_and_by_tx_prefix(app, story):
    db, _ = story
    async with app.run_test(size=(80, 24)) as pilot:
        await open_explorer(pilot)
        await search(pilot, "#4")
        assert text_of(app, "#detail").startswith("Block #4")
        assert "✗ sop.solution" in text_of(app, "#txs")  # a reverted tx is marked in the list
        tx_hash = sqlite3.connect(db).execute("SELECT hash FROM transactions WHERE block_height = 4").fetchone()[0]
        await search(pilot, tx_hash[:16])  # 12 digits alone would read as a height
        detail = text_of(app, "#detail")
        assert detail.startswith("sop.solution  reverted  block #4") and "revert: sop.solution needs" in detail


async def test_proof_of_the_selected_tx_is_verified(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await open_explorer(pilot)
        await pilot.press("tab", "p")
        detail = text_of(app, "#detail")
        assert detail.startswith("Merkle proof of tx") and "✓ the proof reaches the block's Merkle root" in detail


async def test_verify_reports_an_intact_chain_then_tampering(app, story):
    db, _ = story
    async with app.run_test(size=(80, 24)) as pilot:
        await open_explorer(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert text_of(app, "#detail").startswith("✓ chain verified: 18 blocks")
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE accounts SET balance = balance + 1000 WHERE rowid = 1")
        await pilot.press("v")
        await settle(pilot)
        assert text_of(app, "#detail").startswith("✗ chain tampered")
        assert any("tampered" in n.message for n in app._notifications)
