"""Runs and their events.

Runs are a few rows per run and go through sqlite-utils; events are written one or more per agent step and
read back whole for replay, so their statements stay raw SQL.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable

from sqlite_utils import Database

from engine.chain.types import canonical_json

EVENT_COLUMNS = "run_id, seq, kind, ts, block_height, payload"


class RunStore:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.db = Database(conn, recursive_triggers=False, execute_plugins=False)

    # ---- runs ----------------------------------------------------------------------------------------------
    def run_count(self) -> int:
        return self.db["runs"].count

    def insert_run(self, run: dict[str, Any]) -> None:
        self.db["runs"].insert(run)

    def finish_run(self, run_id: str, status: str, finished_at: int, result: dict) -> None:
        self.db["runs"].update(run_id, {"status": status, "finished_at": finished_at,
                                        "result": json.dumps(result, default=str)})

    def running_runs(self) -> list[dict]:
        return [_run(row) for row in self.db["runs"].rows_where("status = 'running'", order_by="started_at")]

    def runs(self) -> list[dict]:
        return [_run(row) for row in self.db["runs"].rows_where(order_by="started_at DESC, run_id")]

    def run(self, run_id: str) -> dict | None:
        return next((_run(row) for row in self.db["runs"].rows_where("run_id = ?", [run_id])), None)

    # ---- events --------------------------------------------------------------------------------------------
    def last_seq(self, run_id: str) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = ?", (run_id,)).fetchone()[0]

    def insert_events(self, events: Iterable) -> None:
        """Rows from objects with the event fields (run_id, seq, kind, ts, block_height, payload)."""
        self.conn.executemany(
            f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            [(e.run_id, e.seq, e.kind, e.ts, e.block_height, canonical_json(e.payload)) for e in events],
        )

    def events(self, run_id: str | None = None, limit: int | None = None, after_seq: int = 0) -> list[dict]:
        """Events oldest first (all runs, or one run after `after_seq`); with `limit`, only the newest ones."""
        query = f"SELECT {EVENT_COLUMNS} FROM events"
        params: list[Any] = []
        if run_id is not None:
            query += " WHERE run_id = ? AND seq > ?"
            params += [run_id, after_seq]
        if limit is not None:
            query = f"SELECT * FROM ({query} ORDER BY ts DESC, seq DESC LIMIT ?)"
            params.append(limit)
        query += " ORDER BY ts, run_id, seq"
        return [{"run_id": r[0], "seq": r[1], "kind": r[2], "ts": r[3], "block_height": r[4],
                 "payload": json.loads(r[5])} for r in self.conn.execute(query, params)]

    def latest_payloads(self, kind: str) -> dict[str, dict]:
        """Per run, the payload of its newest event of `kind` (e.g. each run's latest attribution)."""
        rows = self.conn.execute(
            "SELECT e.run_id, e.payload FROM events e JOIN (SELECT run_id, MAX(seq) AS seq FROM events "
            "WHERE kind = ? GROUP BY run_id) m ON e.run_id = m.run_id AND e.seq = m.seq", (kind,))
        return {run_id: json.loads(payload) for run_id, payload in rows}


def _run(row: dict) -> dict:
    return {**row, "result": json.loads(row["result"]) if row["result"] else None}
