"""The one SQLite file: schema, WAL, migrations and the block-level transaction helper.

Any SQLite tool can open the file. Connections run in autocommit mode; writes that must land together use
`transaction(conn)` (BEGIN IMMEDIATE ... COMMIT), so a mined block and everything it changes commit together or
not at all.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    address TEXT PRIMARY KEY, balance INTEGER NOT NULL, nonce INTEGER NOT NULL,
    stake INTEGER NOT NULL, reputation INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS contract_storage (
    contract TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (contract, key));
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, prev_hash TEXT NOT NULL, merkle_root TEXT NOT NULL,
    state_root TEXT NOT NULL, timestamp INTEGER NOT NULL, tx_count INTEGER NOT NULL, chain_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transactions (
    hash TEXT PRIMARY KEY, block_height INTEGER NOT NULL REFERENCES blocks(height), position INTEGER NOT NULL,
    chain_id TEXT NOT NULL, sender TEXT NOT NULL, to_addr TEXT, nonce INTEGER NOT NULL, tx_type TEXT NOT NULL,
    payload TEXT NOT NULL, gas_price INTEGER NOT NULL, gas_limit INTEGER NOT NULL, timestamp INTEGER NOT NULL,
    public_key TEXT NOT NULL, signature TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS transactions_by_block ON transactions (block_height, position);
CREATE INDEX IF NOT EXISTS transactions_by_sender ON transactions (sender, nonce);
CREATE TABLE IF NOT EXISTS receipts (
    tx_hash TEXT PRIMARY KEY REFERENCES transactions(hash), status TEXT NOT NULL, gas_used INTEGER NOT NULL,
    gas_charged INTEGER NOT NULL, revert_reason TEXT, events TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS names (address TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, incident TEXT NOT NULL, dataset TEXT, reasoner TEXT NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER, result TEXT);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL,
    block_height INTEGER, payload TEXT NOT NULL, PRIMARY KEY (run_id, seq));
"""


def open_db(path: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) the database in WAL mode with the current schema."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    _migrate(conn)
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"database schema version {version} is newer than this rca-tui ({SCHEMA_VERSION})")
    if version < SCHEMA_VERSION:
        conn.executescript(SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
