"""A mined block and everything it describes land together or not at all: kill -9 a process that is mining in a
loop, or fail while a block's events are written; on reopen the chain verifies and nothing is half-written."""
import os
import signal
import subprocess
import sys
import time

import pytest

from engine.agents.dao import DaoExecutor
from engine.clock import FixedClock
from engine.ledger.verify import verify_chain
from engine.runs.session import Session
from engine.store.db import open_db

MINER = """
import sys
from pathlib import Path
from engine.ledger.bench import build_funded_chain, signed_transfers
chain, keys = build_funded_chain(Path(sys.argv[1]))
while True:
    for tx in signed_transfers(chain, keys, 64, seed=chain.height):
        chain.submit(tx)
    chain.mine()
"""


def test_kill_minus_9_while_mining_leaves_no_partial_block(tmp_path):
    db = tmp_path / "crash.db"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    miner = subprocess.Popen([sys.executable, "-c", MINER, str(db)], cwd=repo)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if db.exists() and _height(db) >= 4:
                break
        else:
            raise AssertionError("the miner never reached height 4")
    finally:
        miner.send_signal(signal.SIGKILL)
        miner.wait()
    conn = open_db(db)
    report = verify_chain(conn)
    assert report.ok, report.findings[:3]
    heights = [r[0] for r in conn.execute("SELECT height FROM blocks ORDER BY height")]
    assert heights == list(range(len(heights)))
    orphans = conn.execute("SELECT COUNT(*) FROM transactions WHERE block_height NOT IN (SELECT height FROM blocks)")
    assert orphans.fetchone()[0] == 0
    for height, tx_count in conn.execute("SELECT height, tx_count FROM blocks"):
        assert conn.execute("SELECT COUNT(*) FROM transactions WHERE block_height = ?",
                            (height,)).fetchone()[0] == tx_count


def _height(db):
    try:
        conn = open_db(db)
        try:
            return conn.execute("SELECT COALESCE(MAX(height), -1) FROM blocks").fetchone()[0]
        finally:
            conn.close()
    except Exception:
        return -1


def test_an_error_while_mining_leaves_neither_the_block_nor_its_events(tmp_path, monkeypatch):
    session = Session(tmp_path / "rca.db", clock=FixedClock())
    run_id = session.create_run("atomic", None, "scripted", 0)
    dao = DaoExecutor(session.chain, session.wallets, session.events, run_id)
    dao.act("alert_receiver", "sop.open", {"incident_id": "atomic"})
    height, events = session.height, session.run_events(run_id)
    insert = session.store.insert_events

    def insert_then_fail(rows):
        insert(rows)
        raise OSError("disk full")

    monkeypatch.setattr(session.store, "insert_events", insert_then_fail)
    with pytest.raises(OSError):
        dao.act("data_detective", "sop.collect", {"incident_id": "atomic", "evidence_hash": "e" * 64})
    session.close()

    reopened = Session(tmp_path / "rca.db", clock=FixedClock())
    assert reopened.height == height
    assert reopened.run_events(run_id) == events
    assert reopened.verify().ok
