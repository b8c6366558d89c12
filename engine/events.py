"""Run events: frozen records with a per-run monotonically increasing seq, stored in SQLite and delivered to
subscribers. An event that describes a mined block is written inside that block's transaction."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from engine.store.db import transaction
from engine.store.runs import RunStore

KINDS = (
    "run_started", "agent_thought", "agent_action", "observation", "tx_submitted", "tx_rejected", "block_mined",
    "sop_transition", "proposal", "vote_cast", "consensus", "solution", "reward", "penalty", "attribution",
    "run_finished", "run_failed", "run_interrupted", "reasoner_error",
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
    def __init__(self, store: RunStore, clock):
        self.store = store
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
                seq = self.store.last_seq(run_id) + 1
            self._next_seq[run_id] = seq + 1
        return RunEvent(run_id, seq, kind, self.clock.now_ms(), payload, block_height)

    def write(self, events: list[RunEvent]) -> None:
        """Insert inside the caller's transaction (a block's, or one of its own)."""
        self.store.insert_events(events)

    def publish(self, events: list[RunEvent]) -> None:
        for event in events:
            for subscriber in list(self._subscribers):
                subscriber(event)

    def append(self, run_id: str, kind: str, payload: dict[str, Any], block_height: int | None = None) -> RunEvent:
        """Store one event on its own and deliver it."""
        event = self.make(run_id, kind, payload, block_height)
        with transaction(self.store.conn):
            self.write([event])
        self.publish([event])
        return event

    def read(self, run_id: str | None = None, limit: int | None = None, after_seq: int = 0) -> list[RunEvent]:
        return [RunEvent(**row) for row in self.store.events(run_id, limit, after_seq)]
