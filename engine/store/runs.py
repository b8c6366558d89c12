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
from engine.store.schema import RESULTS_PENDING

EVENT_COLUMNS = "run_id, seq, kind, ts, block_height, payload"
RUN_COLUMNS = ("run_id", "incident", "dataset", "reasoner", "seed", "status", "started_at", "finished_at", "result")


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

    def stored_run(self, run_id: str) -> tuple | None:
        """The run's committed columns as stored (result as its JSON text), in RUN_COLUMNS order."""
        return self.conn.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE run_id = ?", (run_id,)).fetchone()

    def stored_runs(self) -> list[tuple]:
        return self.conn.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY run_id").fetchall()

    def results_pending(self) -> bool:
        """Whether runs finished before v4 still wait for their signed results."""
        return self.conn.execute("SELECT 1 FROM meta WHERE key = ?", (RESULTS_PENDING,)).fetchone() is not None

    def results_done(self) -> None:
        self.conn.execute("DELETE FROM meta WHERE key = ?", (RESULTS_PENDING,))

    def finished_run_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT run_id FROM runs WHERE status != 'running' ORDER BY run_id")]

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

    # ---- event commitments (the sealer signs each block together with the events written up to it) ------------
    def pending_events(self) -> list[tuple]:
        """Events no block has committed yet, as stored, in commitment order (run, seq)."""
        return self.conn.execute(
            f"SELECT {EVENT_COLUMNS} FROM events e WHERE committed_in IS NULL AND NOT EXISTS"
            " (SELECT 1 FROM event_commits c WHERE c.run_id = e.run_id AND c.seq = e.seq) ORDER BY run_id, seq"
        ).fetchall()

    def commit_events(self, height: int, committed: list[tuple[str, int, str]]) -> None:
        """Record that block `height` committed these (run_id, seq, hash)."""
        self.conn.executemany("INSERT INTO event_commits (run_id, seq, height, hash) VALUES (?, ?, ?, ?)",
                              [(run_id, seq, height, digest) for run_id, seq, digest in committed])
        self.conn.executemany("UPDATE events SET committed_in = ? WHERE run_id = ? AND seq = ?",
                              [(height, run_id, seq) for run_id, seq, _ in committed])

    def event_commits(self) -> list[tuple[int, str, int, str]]:
        """(height, run_id, seq, hash) of every committed event, by block in commitment order."""
        return self.conn.execute("SELECT height, run_id, seq, hash FROM event_commits ORDER BY height, run_id, seq"
                                 ).fetchall()

    def events_with_commits(self) -> list[tuple]:
        """Every stored event (as stored) with the height and hash it was committed with (None, None if never)."""
        return self.conn.execute(
            "SELECT e.run_id, e.seq, e.kind, e.ts, e.block_height, e.payload, c.height, c.hash FROM events e"
            " LEFT JOIN event_commits c ON c.run_id = e.run_id AND c.seq = e.seq ORDER BY e.run_id, e.seq"
        ).fetchall()

    def commits_without_event(self) -> list[tuple[int, str, int]]:
        """(height, run_id, seq) committed by a block but no longer in the events table."""
        return self.conn.execute(
            "SELECT c.height, c.run_id, c.seq FROM event_commits c LEFT JOIN events e"
            " ON e.run_id = c.run_id AND e.seq = c.seq WHERE e.run_id IS NULL ORDER BY c.run_id, c.seq").fetchall()

    def latest_payloads(self, kind: str) -> dict[str, dict]:
        """Per run, the payload of its newest event of `kind` (e.g. each run's latest attribution)."""
        rows = self.conn.execute(
            "SELECT e.run_id, e.payload FROM events e JOIN (SELECT run_id, MAX(seq) AS seq FROM events "
            "WHERE kind = ? GROUP BY run_id) m ON e.run_id = m.run_id AND e.seq = m.seq", (kind,))
        return {run_id: json.loads(payload) for run_id, payload in rows}


def _run(row: dict) -> dict:
    return {**row, "result": json.loads(row["result"]) if row["result"] else None}
