"""The one SQLite file: connection, WAL, and the block-level transaction helper.

Any SQLite tool can open the file. Connections run in autocommit mode; writes that must land together use
`transaction(conn)` (BEGIN IMMEDIATE ... COMMIT), so a mined block and everything it changes commit together or
not at all.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from engine.store.schema import SCHEMA_VERSION, migrate, version


def open_db(path: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) the database in WAL mode, migrated to the current schema."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    try:
        if version(conn) != SCHEMA_VERSION:
            with transaction(conn):
                migrate(conn, str(path))
    except BaseException:
        conn.close()
        raise
    return conn


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
