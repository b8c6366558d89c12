"""Run events: frozen records with a per-run monotonically increasing seq, stored in SQLite and delivered to
subscribers. An event that describes a mined block is written inside that block's transaction."""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any, Callable

from engine.chain.types import canonical_json
from engine.store.db import transaction

KINDS = (
    "run_started", "agent_thought", "agent_action", "observation", "tx_submitted", "tx_rejected", "block_mined",
    "sop_transition", "proposal", "vote_cast", "consensus", "solution", "reward", "penalty", "attribution",
    "run_finished", "run_failed", "reasoner_error",
)


@dataclass(frozen=True)
class RunEvent:
    run_id: str
    seq: int
    kind: str
    ts: int
    payload: dict[str, Any]
    block_height: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "seq": self.seq, "kind": self.kind, "ts": self.ts,
                "block_height": self.block_height, "payload": self.payload}


Subscriber = Callable[[RunEvent], None]


class EventLog:
    def __init__(self, conn: sqlite3.Connection, clock):
        self.conn = conn
        self.clock = clock
        self._subscribers: list[Subscriber] = []
        self._next_seq: dict[str, int] = {}
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def make(self, run_id: str, kind: str, payload: dict[str, Any], block_height: int | None = None) -> RunEvent:
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        with self._lock:
            seq = self._next_seq.get(run_id)
            if seq is None:
                row = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = ?",
                                        (run_id,)).fetchone()
                seq = row[0] + 1
            self._next_seq[run_id] = seq + 1
        return RunEvent(run_id, seq, kind, self.clock.now_ms(), payload, block_height)

    def write(self, conn: sqlite3.Connection, events: list[RunEvent]) -> None:
        """Insert inside the caller's transaction (a block's, or one of its own)."""
        conn.executemany(
            "INSERT INTO events (run_id, seq, kind, ts, block_height, payload) VALUES (?, ?, ?, ?, ?, ?)",
            [(e.run_id, e.seq, e.kind, e.ts, e.block_height, canonical_json(e.payload)) for e in events],
        )

    def publish(self, events: list[RunEvent]) -> None:
        for event in events:
            for subscriber in list(self._subscribers):
                subscriber(event)

    def append(self, run_id: str, kind: str, payload: dict[str, Any], block_height: int | None = None) -> RunEvent:
        """Store one event on its own and deliver it."""
        event = self.make(run_id, kind, payload, block_height)
        with transaction(self.conn):
            self.write(self.conn, [event])
        self.publish([event])
        return event


def read_events(conn: sqlite3.Connection, run_id: str | None = None, limit: int | None = None,
                after_seq: int = 0) -> list[RunEvent]:
    query = "SELECT run_id, seq, kind, ts, block_height, payload FROM events"
    params: list[Any] = []
    if run_id is not None:
        query += " WHERE run_id = ? AND seq > ?"
        params += [run_id, after_seq]
    query += " ORDER BY ts, run_id, seq"
    if limit is not None:
        query = f"SELECT * FROM ({query.replace(' ORDER BY ts, run_id, seq', '')} ORDER BY ts DESC, seq DESC LIMIT ?)" \
                " ORDER BY ts, run_id, seq"
        params.append(limit)
    return [RunEvent(r[0], r[1], r[2], r[3], json.loads(r[5]), r[4]) for r in conn.execute(query, params)]
