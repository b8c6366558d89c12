"""The facade the console and the CLI call: one database, its chain, the agents' wallets and the run events."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

from engine.agents.dao import Wallets, ensure_genesis
from engine.agents.roles import AGENT_KEYS, AUTHORITY
from engine.chain.merkle import MerkleProof
from engine.chain.types import Block, Receipt, Transaction
from engine.clock import SystemClock
from engine.contracts import governance, sop
from engine.contracts.token import locked_stake
from engine.events import EventLog, RunEvent
from engine.ledger.anchor import Anchor
from engine.ledger.chain import Chain
from engine.ledger.records import RESOLVE_TX, resolution_payload, result_changes, run_digest
from engine.ledger.verify import Expected, VerifyReport, verify_chain
from engine.store.db import data_version, open_db, open_db_readonly, transaction
from engine.runs.owner import current_owner, owner_is_gone
from engine.store.errors import DatabaseUnusable
from engine.store.runs import RunStore

REPLAY_ECONOMY_FIELDS = ("balance", "stake", "locked", "reputation", "vote_weight")


def run_id_for(number: int, incident: str, dataset: str | None, reasoner: str, seed: int) -> str:
    """`run-0007-1a2b3c4d`: the database's run count and a digest of what the run is asked to do."""
    digest = hashlib.sha256(f"{incident}\n{dataset}\n{reasoner}\n{seed}".encode()).hexdigest()[:8]
    return f"run-{number:04d}-{digest}"


def verify_database(db_path: Path, expect_genesis: str | None = None, expect_head: str | None = None,
                    on_block=None) -> VerifyReport:
    """`chain verify`: opens the file read-only and creates nothing; a missing file or a missing trust anchor
    (keys and pinned genesis) is refused with DatabaseUnusable."""
    conn = open_db_readonly(db_path)
    try:
        pin = Anchor.beside(db_path).require_pin()
        return verify_chain(conn, Expected(pin, expect_genesis, expect_head), on_block)
    finally:
        conn.close()


class RunResultUntrusted(DatabaseUnusable):
    """A run's stored result is not the one the DAO authority signed, or none was signed: nothing may act on it."""


def iso_time(epoch_ms: int | None) -> str | None:
    """Epoch milliseconds as local `YYYY-MM-DD HH:MM:SS`."""
    from datetime import datetime

    if epoch_ms is None:
        return None
    return datetime.fromtimestamp(epoch_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


class Session:
    def __init__(self, db_path: Path, clock=None):
        self.db_path = Path(db_path)
        self.clock = clock or SystemClock()
        self.conn = open_db(self.db_path)
        self.anchor = Anchor.beside(self.db_path)
        self.chain = Chain(self.conn, self.anchor, self.clock)
        self.wallets = Wallets.beside(self.db_path)
        ensure_genesis(self.chain, self.wallets)
        self.store = RunStore(self.conn)
        self.events = EventLog(self.store, self.clock)
        self.interrupt_orphaned_runs()
        self._resolve_legacy_runs()

    def close(self) -> None:
        self.conn.close()

    # ---- runs ----------------------------------------------------------------------------------------------
    def create_run(self, incident: str, dataset: str | None, reasoner: str, seed: int) -> str:
        with transaction(self.conn):
            run_id = run_id_for(self.store.run_count() + 1, incident, dataset, reasoner, seed)
            self.store.insert_run({"run_id": run_id, "incident": incident, "dataset": dataset,
                                   "reasoner": reasoner, "seed": seed, "status": "running",
                                   "started_at": self.clock.now_ms(), "owner": current_owner()})
        return run_id

    def interrupt_orphaned_runs(self) -> list[str]:
        """Mark `interrupted` (with an event) every run left `running` by a process of this host that is gone."""
        interrupted = []
        for run in self.store.running_runs():
            if owner_is_gone(run["owner"]):
                detail = f"the process that ran it ({run['owner'] or 'unknown'}) ended before the run did"
                self.events.append(run["run_id"], "run_interrupted", {"reason": detail})
                self.finish_run(run["run_id"], "interrupted", {"error": detail})
                interrupted.append(run["run_id"])
        return interrupted

    def finish_run(self, run_id: str, status: str, result: dict) -> None:
        """Store the run's result and have the DAO authority sign it (`incident.resolve`) in the same SQLite
        transaction; the block that mines it also commits every event of the run written so far."""
        with self.chain.writing():
            self.store.finish_run(run_id, status, self.clock.now_ms(), result)
            self._sign_result(run_id, result)

    def _sign_result(self, run_id: str, result: dict) -> None:
        payload = resolution_payload(self.store.stored_run(run_id), result)
        [tx], _ = self.chain.sign_and_mine_locked([(self.wallets.keys[AUTHORITY], RESOLVE_TX, payload, 0)])
        receipt = self.chain.transaction(tx.hash)[1]
        if not receipt.ok:  # the authority never re-signs a run with another root cause or truth
            raise RunResultUntrusted(f"run {run_id}: the authority's resolution was refused: {receipt.revert_reason}")

    def commit_events(self) -> None:
        """Have a block commit the events written since the last one (those written after a run ended)."""
        self.chain.mine(allow_empty=True)

    def _resolve_legacy_runs(self) -> None:
        """Runs finished before results were signed get signed once, as they are stored (trust on first use)."""
        if not self.store.results_pending():
            return
        with self.chain.writing():
            for run_id in self.store.finished_run_ids():
                if not self.chain.signed_resolutions(run_id):
                    self._sign_result(run_id, self.store.run(run_id)["result"] or {})
            self.store.results_done()

    def signed_result(self, run_id: str) -> dict:
        """The run's result as the DAO authority signed it (status, root cause, truth, tx, block), after checking
        that the stored run is the one signed. Raises RunResultUntrusted otherwise."""
        stored = self.store.stored_run(run_id)
        proven = self.chain.signed_resolutions(run_id) if stored else []
        if not proven:
            raise RunResultUntrusted(f"run {run_id} has no result signed on chain (incident.resolve): it is still "
                                     "running, or it was not recorded by this database; nothing acts on it")
        tx, height = proven[-1]
        signed = {**tx.payload, "tx": tx.hash, "block": height}
        if run_digest(stored) != signed["result_digest"]:
            changed = result_changes(stored, signed)
            raise RunResultUntrusted(
                f"run {run_id}: the stored result is not the one the DAO authority signed in tx {tx.hash[:16]} "
                f"(block {height}){': ' + '; '.join(changed) if changed else ''}; nothing acts on an edited "
                "result (run `rca-tui chain verify` to see what else changed)")
        return signed

    def runs(self) -> list[dict]:
        return self.store.runs()

    def data_version(self) -> int:
        """Changes whenever another connection (another process, a worker's session) commits: cheap to poll."""
        return data_version(self.conn)

    def run(self, run_id: str) -> dict | None:
        return self.store.run(run_id)

    def run_rows(self) -> list[dict]:
        """What a runs list shows, newest first: the run, its root cause, the truth when labelled, whether it
        was right, the agent its latest attribution blamed, and `started` as local ISO time."""
        blamed = self.store.latest_payloads("attribution")
        rows = []
        for run in self.runs():
            result = run.get("result") or {}
            truth = (result.get("label") or {}).get("root_cause")
            root = result.get("root_cause")
            attribution = blamed.get(run["run_id"])
            rows.append({"run_id": run["run_id"], "incident": run["incident"], "reasoner": run["reasoner"],
                         "status": run["status"], "root_cause": root, "truth": truth,
                         "correct": None if truth is None else root == truth,  # no consensus: not correct
                         "blamed": attribution.get("who") if attribution else None,
                         "started": iso_time(run.get("started_at")), "started_at": run.get("started_at")})
        return rows

    def run_events(self, run_id: str | None = None, limit: int | None = None) -> list[RunEvent]:
        return self.events.read(run_id, limit)

    # ---- the chain, for the explorer -----------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.chain.height

    def blocks(self, limit: int) -> list[dict]:
        """The newest `limit` blocks (height, hash, prev_hash, merkle_root, state_root, tx_count, timestamp)."""
        return self.chain.blocks(limit)

    def block(self, height: int) -> Block | None:
        return self.chain.block(height)

    def tx(self, tx_hash: str) -> tuple[Transaction, Receipt, int] | None:
        """A mined transaction, its receipt and its block height."""
        return self.chain.transaction(tx_hash)

    def reverted_txs(self, height: int) -> set[str]:
        return self.chain.reverted_tx_hashes(height)

    def find_txs(self, prefix: str, limit: int = 20) -> list[str]:
        """Hashes of mined transactions that start with `prefix`."""
        return self.chain.find_tx_hashes(prefix, limit)

    def proof(self, tx_hash: str) -> tuple[MerkleProof, str, int]:
        return self.chain.proof(tx_hash)

    def names(self) -> dict[str, str]:
        return self.chain.names()

    def verify(self, on_block=None) -> VerifyReport:
        return verify_chain(self.conn, Expected(pin=self.anchor.pin()), on_block)

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
        for name in [*AGENT_KEYS, AUTHORITY]:
            account = self.chain.state.get_account(self.wallets.address(name))
            rows.append({"agent": name, "address": account.address, "balance": account.balance,
                         "stake": account.stake, "locked": locked_stake(self.chain.state, account.address),
                         "reputation": account.reputation, "vote_weight": governance.vote_weight(account),
                         "nonce": account.nonce})
        return sorted(rows, key=lambda r: (-r["vote_weight"], -r["balance"], r["agent"]))

    def economy_history(self, heights: Iterable[int]) -> dict[int, list[dict]]:
        """The seven agents' leaderboard rows as they were after each block in `heights` (replay's leaderboard)."""
        wanted = set(heights)
        if not wanted:
            return {}
        saved = self.chain.economy_snapshots(min(wanted), max(wanted))
        return {height: self._agent_rows(saved.get(height, [])) for height in sorted(wanted)}

    def _agent_rows(self, saved: list[dict]) -> list[dict]:
        by_address = {row["address"]: row for row in saved}
        rows = []
        for name in AGENT_KEYS:
            row = by_address.get(self.wallets.address(name))
            if row is not None:
                rows.append({"agent": name, **{key: row[key] for key in REPLAY_ECONOMY_FIELDS}})
        return rows
