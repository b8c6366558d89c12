"""The facade the console and the CLI call: one database, its chain, the agents' wallets and the run events."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

from engine.agents.dao import Wallets, ensure_genesis
from engine.agents.roles import AUTHORITY, ROLES
from engine.chain.ledger import Chain
from engine.chain.verify import VerifyReport, verify_chain
from engine.clock import SystemClock
from engine.contracts import governance, sop
from engine.contracts.token import locked_stake
from engine.runs.events import EventLog, RunEvent, read_events
from engine.store.db import open_db, transaction


class Session:
    def __init__(self, db_path: Path, clock=None):
        self.db_path = Path(db_path)
        self.clock = clock or SystemClock()
        self.conn = open_db(self.db_path)
        self.chain = Chain(self.conn, self.clock)
        self.wallets = Wallets.beside(self.db_path)
        ensure_genesis(self.chain, self.wallets)
        self.events = EventLog(self.conn, self.clock)

    def close(self) -> None:
        self.conn.close()

    # ---- runs ----------------------------------------------------------------------------------------------
    def create_run(self, incident: str, dataset: str | None, reasoner: str, seed: int) -> str:
        run_id = f"run-{uuid.UUID(int=uuid.uuid4().int).hex[:12]}"
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO runs (run_id, incident, dataset, reasoner, seed, status, started_at)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?)", (run_id, incident, dataset, reasoner, seed,
                                                        self.clock.now_ms()))
        return run_id

    def finish_run(self, run_id: str, status: str, result: dict) -> None:
        with transaction(self.conn):
            self.conn.execute("UPDATE runs SET status = ?, finished_at = ?, result = ? WHERE run_id = ?",
                              (status, self.clock.now_ms(), json.dumps(result, default=str), run_id))

    def runs(self) -> list[dict]:
        rows = self.conn.execute("SELECT * FROM runs ORDER BY started_at DESC, run_id")
        return [_run_row(row) for row in rows]

    def run(self, run_id: str) -> dict | None:
        row = self.conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _run_row(row) if row else None

    def run_events(self, run_id: str | None = None, limit: int | None = None) -> list[RunEvent]:
        return read_events(self.conn, run_id, limit)

    # ---- contract views ------------------------------------------------------------------------------------
    def run_sop_status(self, run_id: str) -> dict | None:
        """The SOP state of the incident a run opened on chain (None when the run opened none)."""
        run = self.run(run_id)
        return self.sop_status(sop.incident_key(run["incident"], run_id)) if run else None

    def sop_status(self, incident_id: str) -> dict | None:
        record = sop.incident(self.chain.state, incident_id)
        if record is None:
            return None
        proposal = governance.proposal(self.chain.state, record["proposal_id"]) if record["proposal_id"] else None
        return {"incident_id": incident_id, "state": record["state"], "states": sop.ORDER,
                "history": record["history"], "proposal_id": record["proposal_id"],
                "tally": governance.tally(proposal) if proposal else None}

    def economy(self) -> list[dict]:
        """Token leaderboard: balance, stake, locked stake, reputation and vote weight per agent."""
        rows = []
        for name in [role.key for role in ROLES] + [AUTHORITY]:
            account = self.chain.state.get_account(self.wallets.address(name))
            rows.append({"agent": name, "address": account.address, "balance": account.balance,
                         "stake": account.stake, "locked": locked_stake(self.chain.state, account.address),
                         "reputation": account.reputation, "vote_weight": governance.vote_weight(account),
                         "nonce": account.nonce})
        return sorted(rows, key=lambda r: (-r["vote_weight"], -r["balance"], r["agent"]))

    def verify(self, on_block=None) -> VerifyReport:
        return verify_chain(self.conn, on_block)


def _run_row(row) -> dict:
    data = dict(row)
    data["result"] = json.loads(data["result"]) if data["result"] else None
    return data
