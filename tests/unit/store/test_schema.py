"""The schema version guard: a database newer than the code is refused; a version-1 database (no economy
snapshots) is migrated, keeps its data, and gets the snapshots it missed."""
import sqlite3
import subprocess
import sys

import pytest

from engine.clock import FixedClock
from engine.runs.scripted import run_scripted_incident
from engine.runs.session import Session
from engine.store.db import open_db
from engine.store.schema import SCHEMA_VERSION, SchemaTooNew


def test_a_database_newer_than_the_code_is_refused_with_its_version(tmp_path):
    db = tmp_path / "future.db"
    open_db(db).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew, match=f"schema version {SCHEMA_VERSION + 1}.*up to {SCHEMA_VERSION}"):
        open_db(db)


def test_the_cli_refuses_a_newer_database_with_a_message_and_leaves_it_untouched(tmp_path):
    db = tmp_path / "future.db"
    conn = open_db(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = db.read_bytes()
    done = subprocess.run([sys.executable, "-m", "rca_tui", "runs", "list", "--db", str(db)], capture_output=True,
                          text=True)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and f"schema version {SCHEMA_VERSION + 1}" in done.stderr
    assert db.read_bytes() == before


def downgrade_to_v1(db) -> None:
    conn = sqlite3.connect(db)
    conn.executescript("DROP TABLE economy_snapshots; PRAGMA user_version = 1;")
    conn.close()


def test_a_v1_database_is_migrated_keeping_its_data_and_back_filling_snapshots(tmp_path):
    db = tmp_path / "old.db"
    session = Session(db, clock=FixedClock())
    run = run_scripted_incident(session)
    mined = session.chain.economy_snapshots(0, session.height)
    before = (session.runs(), session.run_events(), session.economy(), session.height)
    session.close()
    downgrade_to_v1(db)

    reopened = Session(db, clock=FixedClock())
    assert reopened.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert (reopened.runs(), reopened.run_events(), reopened.economy(), reopened.height) == before
    assert reopened.chain.economy_snapshots(0, reopened.height) == mined
    assert reopened.run(run["run_id"])["status"] == "finished"
    assert reopened.verify().ok
