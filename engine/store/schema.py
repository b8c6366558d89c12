"""The schema and its migrations; `PRAGMA user_version` holds the version a database is at.

Version 1 stays as the DDL it shipped with (a migration is history and never changes); later versions create
their tables with sqlite-utils. A database newer than this code is refused rather than half-understood.
"""
from __future__ import annotations

import sqlite3
from typing import Callable

from sqlite_utils import Database

from engine.store.errors import DatabaseUnusable, SchemaTooNew

SCHEMA_VERSION = 4
SNAPSHOTS_PENDING = "economy_snapshots_pending"  # meta key: v2 added snapshots to a chain mined without them
SEALS_PENDING = "seals_pending"  # meta key: v3 added block seals to a chain mined without them
RESULTS_PENDING = "run_results_pending"  # meta key: v4 added signed run results to runs finished without them


V1_TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS accounts (
    address TEXT PRIMARY KEY, balance INTEGER NOT NULL, nonce INTEGER NOT NULL,
    stake INTEGER NOT NULL, reputation INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS contract_storage (
    contract TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (contract, key))""",
    """CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, prev_hash TEXT NOT NULL, merkle_root TEXT NOT NULL,
    state_root TEXT NOT NULL, timestamp INTEGER NOT NULL, tx_count INTEGER NOT NULL, chain_id TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS transactions (
    hash TEXT PRIMARY KEY, block_height INTEGER NOT NULL REFERENCES blocks(height), position INTEGER NOT NULL,
    chain_id TEXT NOT NULL, sender TEXT NOT NULL, to_addr TEXT, nonce INTEGER NOT NULL, tx_type TEXT NOT NULL,
    payload TEXT NOT NULL, gas_price INTEGER NOT NULL, gas_limit INTEGER NOT NULL, timestamp INTEGER NOT NULL,
    public_key TEXT NOT NULL, signature TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS transactions_by_block ON transactions (block_height, position)",
    "CREATE INDEX IF NOT EXISTS transactions_by_sender ON transactions (sender, nonce)",
    """CREATE TABLE IF NOT EXISTS receipts (
    tx_hash TEXT PRIMARY KEY REFERENCES transactions(hash), status TEXT NOT NULL, gas_used INTEGER NOT NULL,
    gas_charged INTEGER NOT NULL, revert_reason TEXT, events TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS names (address TEXT PRIMARY KEY, name TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, incident TEXT NOT NULL, dataset TEXT, reasoner TEXT NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER, result TEXT)""",
    """CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL,
    block_height INTEGER, payload TEXT NOT NULL, PRIMARY KEY (run_id, seq))""",
)

SNAPSHOT_COLUMNS = {"height": int, "address": str, "balance": int, "stake": int, "locked": int, "reputation": int,
                    "vote_weight": float, "nonce": int}


def _v1_tables(db: Database) -> None:
    for statement in V1_TABLES:
        db.execute(statement)


def _v2_economy_snapshots(db: Database) -> None:
    """The named accounts' leaderboard rows after every block; a chain mined before v2 gets them back-filled."""
    db["economy_snapshots"].create(SNAPSHOT_COLUMNS, pk=("height", "address"), not_null=set(SNAPSHOT_COLUMNS),
                                   foreign_keys=[("height", "blocks", "height")])
    if db["blocks"].count:
        db["meta"].insert({"key": SNAPSHOTS_PENDING, "value": "1"}, replace=True)


def _v3_seals_nonces_owners(db: Database) -> None:
    """Block seals (the sealer's signature over each block hash), one tx per (sender, nonce) enforced by the
    store, and the process that owns a running run (so a run whose process died can be told apart)."""
    if "seals" not in db.table_names():
        db["seals"].create({"height": int, "signature": str}, pk="height", not_null={"signature"},
                           foreign_keys=[("height", "blocks", "height")])
        if db["blocks"].count:
            db["meta"].insert({"key": SEALS_PENDING, "value": "1"}, replace=True)
    duplicates = db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM transactions GROUP BY sender, nonce"
                            " HAVING COUNT(*) > 1)").fetchone()[0]
    if duplicates:
        raise DatabaseUnusable(f"{duplicates} (sender, nonce) pairs were mined more than once (concurrent "
                               "writers before rca-tui enforced one tx per nonce); this chain cannot be trusted")
    db.execute("DROP INDEX IF EXISTS transactions_by_sender")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS transactions_sender_nonce ON transactions (sender, nonce)")
    if "owner" not in db["runs"].columns_dict:
        db["runs"].add_column("owner", str)


def _v4_event_commits(db: Database) -> None:
    """Run events committed by the sealer: each block's seal signs its hash together with the Merkle root of the
    run events written up to it (`seals.events_root`), and `event_commits` lists the hash of every event a block
    committed. `events.committed_in` only finds the events still waiting for a block. Events and finished runs
    from before v4 are committed by the first block mined after the migration."""
    if "events_root" not in db["seals"].columns_dict:
        db["seals"].add_column("events_root", str)
    if "event_commits" not in db.table_names():
        db["event_commits"].create({"run_id": str, "seq": int, "height": int, "hash": str}, pk=("run_id", "seq"),
                                   not_null={"run_id", "seq", "height", "hash"})
        db.execute("CREATE INDEX event_commits_by_height ON event_commits (height, run_id, seq)")
    if "committed_in" not in db["events"].columns_dict:
        db["events"].add_column("committed_in", int)
        db.execute("CREATE INDEX events_pending ON events (run_id, seq) WHERE committed_in IS NULL")
    if db.execute("SELECT COUNT(*) FROM runs WHERE status != 'running'").fetchone()[0]:
        db["meta"].insert({"key": RESULTS_PENDING, "value": "1"}, replace=True)


MIGRATIONS: tuple[Callable[[Database], None], ...] = (_v1_tables, _v2_economy_snapshots,
                                                      _v3_seals_nonces_owners, _v4_event_commits)  # i → i+1


def version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, source: str) -> None:
    """Bring the database to SCHEMA_VERSION; the caller holds the write transaction."""
    found = version(conn)
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(f"{source} has schema version {found}, but this rca-tui reads versions up to "
                           f"{SCHEMA_VERSION}; upgrade rca-tui or choose another database with --db")
    db = Database(conn, recursive_triggers=False, execute_plugins=False)
    for step in MIGRATIONS[found:]:
        step(db)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
