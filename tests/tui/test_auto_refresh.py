"""The console notices another process's writes (SQLite's data_version, polled each second) and redraws the pane
in view without a key: a run stored by `rca-tui run` in another terminal appears in Runs and in the live console."""
from __future__ import annotations

import time

from textual.widgets import DataTable

from engine.runs.session import Session
from tests.tui.helpers import settle, text_of
from rca_tui.widgets.tables import selected_key
from tests.tui.story import open_session


async def wait_for(pilot, condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the console did not refresh by itself"
        await pilot.pause(0.1)


def store_run_elsewhere(db) -> str:
    """What another process does: its own connection creates a run and records its first event."""
    other = Session(db)
    try:
        run_id = other.create_run("ts-cancel-7", "data/demo", "rule", 7)
        other.events.append(run_id, "run_started", {"incident": "ts-cancel-7"})
        return run_id
    finally:
        other.close()


async def test_runs_pane_shows_a_run_another_process_stored_and_keeps_the_selection(app, story):
    _, story_run = story
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        assert app.screen.query_one(DataTable).row_count == 1
        new_run = store_run_elsewhere(story[0])
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)
        rows = text_of(app, "#runs").splitlines()
        assert rows[0].startswith(f"{new_run} ") and rows[1].startswith(f"{story_run} ")  # newest first
        assert app.screen.selected_run() == story_run  # the reader's selection did not jump


async def test_live_console_follows_a_run_another_process_started(app, story):
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        new_run = store_run_elsewhere(story[0])
        await wait_for(pilot, lambda: text_of(app, "#run-status").startswith(f"run {new_run} · 1 events"))
        assert text_of(app, "#agent-log").splitlines()[-1].startswith("#1    system      start")


def mine_block_elsewhere(db) -> int:
    """What another process does: its own connection opens an incident on chain, which mines one block."""
    from engine.agents import council
    from engine.agents.dao import DaoExecutor

    other = open_session(db)
    try:
        run_id = other.create_run("ts-cancel-7", "data/demo", "rule", 7)
        dao = DaoExecutor(other.chain, other.wallets, other.events, run_id)
        return council.open_incident(dao, "alert_receiver", f"ts-cancel-7#{run_id}", {"entity": "ts-x"}).block.height
    finally:
        other.close()


async def test_explorer_shows_a_block_another_process_mined_and_keeps_the_readers_place(app, story):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        blocks, txs = app.screen.query_one("#blocks", DataTable), app.screen.query_one("#txs", DataTable)
        await pilot.press("down", "down", "tab", "down", "p")  # block 15, its second tx, that tx's Merkle proof
        await settle(pilot)
        tx_before, detail_before = app.screen.selected_tx(), text_of(app, "#detail")
        assert selected_key(blocks) == "15" and detail_before.startswith("Merkle proof of tx")
        height = mine_block_elsewhere(story[0])
        await wait_for(pilot, lambda: blocks.row_count == 19)
        await settle(pilot)
        assert text_of(app, "#blocks").splitlines()[0].startswith(f"{height} ")  # newest first, no key pressed
        assert selected_key(blocks) == "15" and blocks.cursor_row == 3  # the same block, one row lower
        assert txs.has_focus and app.screen.selected_tx() == tx_before
        assert text_of(app, "#detail") == detail_before  # the proof the reader was reading stays
