"""Re-check a whole chain from genesis: hash links, Merkle roots, every signature, and re-execution.

Re-execution runs every transaction again on a fresh in-memory state with the same VM and compares each
receipt and each block's state root with what is stored; finally the live state tables are compared with the
re-executed state, so an edited balance is caught even where no block records it.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Callable, Iterator

from engine.chain import crypto, merkle
from engine.chain.ledger import GENESIS_PREV_HASH, apply_genesis, header_from_row, load_config, load_genesis, tx_from_row
from engine.chain.state import WorldState
from engine.chain.types import Transaction, canonical_json
from engine.chain.vm import execute
from engine.store.db import open_db, transaction


@dataclass(frozen=True)
class Finding:
    height: int | None
    what: str
    detail: str

    def to_dict(self) -> dict:
        return {"height": self.height, "what": self.what, "detail": self.detail}


@dataclass
class VerifyReport:
    blocks: int = 0
    transactions: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict:
        return {"ok": self.ok, "blocks": self.blocks, "transactions": self.transactions,
                "seconds": round(self.seconds, 3),
                "tx_per_second": round(self.transactions / self.seconds, 1) if self.seconds else None,
                "findings": [f.to_dict() for f in self.findings]}


def verify_chain(conn: sqlite3.Connection, on_block: Callable[[int], None] | None = None) -> VerifyReport:
    import time

    started = time.perf_counter()
    report = VerifyReport()
    genesis = load_genesis(conn)
    if genesis is None:
        report.findings.append(Finding(None, "genesis", "no genesis record in meta"))
        return report
    shadow = WorldState(open_db(":memory:"))
    with transaction(shadow.conn):
        apply_genesis(shadow, genesis)
        _verify_blocks(conn, shadow, load_config(conn), report, on_block)
        report.findings.extend(_compare_live_state(WorldState(conn), shadow, report.blocks - 1))
    report.seconds = time.perf_counter() - started
    return report


def _verify_blocks(conn, shadow: WorldState, config, report: VerifyReport, on_block) -> None:
    previous_hash = GENESIS_PREV_HASH
    txs_by_block = _transactions_by_block(conn)
    pending_tx = next(txs_by_block, None)
    for row in conn.execute("SELECT * FROM blocks ORDER BY height"):
        header, height = header_from_row(row), row["height"]
        _check(report, height, "block hash", header.hash, row["hash"])
        _check(report, height, "prev_hash link", previous_hash, header.prev_hash)
        block_txs = []
        while pending_tx is not None and pending_tx[0] == height:
            block_txs.append(pending_tx[1])
            pending_tx = next(txs_by_block, None)
        _check(report, height, "tx_count", len(block_txs), header.tx_count)
        txs = [_verify_tx(report, height, tx_row) for tx_row, _ in block_txs]
        _check(report, height, "merkle_root", merkle.merkle_root([tx.hash for tx in txs]), header.merkle_root)
        for tx, (tx_row, stored_receipt) in zip(txs, block_txs):
            receipt = execute(shadow, config, tx, height, header.timestamp)
            _check_receipt(report, height, tx_row["hash"], receipt, stored_receipt)
        _check(report, height, "state_root (re-executed)", shadow.state_root(), header.state_root)
        previous_hash = row["hash"]
        report.blocks += 1
        report.transactions += len(block_txs)
        if on_block:
            on_block(height)


def _transactions_by_block(conn) -> Iterator[tuple[int, tuple[sqlite3.Row, sqlite3.Row | None]]]:
    cursor = conn.execute(
        "SELECT t.*, r.status AS r_status, r.gas_used AS r_gas_used, r.gas_charged AS r_gas_charged,"
        " r.events AS r_events, r.revert_reason AS r_revert_reason, r.tx_hash AS r_tx_hash"
        " FROM transactions t LEFT JOIN receipts r ON r.tx_hash = t.hash ORDER BY t.block_height, t.position")
    for row in cursor:
        yield row["block_height"], (row, row if row["r_tx_hash"] is not None else None)


def _verify_tx(report: VerifyReport, height: int, row: sqlite3.Row) -> Transaction:
    tx = tx_from_row(row)
    _check(report, height, f"tx {row['hash'][:16]} hash", tx.hash, row["hash"])
    if crypto.address_of(tx.public_key) != tx.sender or not crypto.verify(tx.public_key, tx.signature,
                                                                          tx.signing_digest()):
        report.findings.append(Finding(height, f"tx {row['hash'][:16]} signature",
                                       "signature does not verify over the stored fields"))
    return tx


def _check_receipt(report: VerifyReport, height: int, tx_hash: str, receipt, stored) -> None:
    label = f"tx {tx_hash[:16]} receipt"
    if stored is None:
        report.findings.append(Finding(height, label, "receipt missing"))
        return
    _check(report, height, f"{label} status", receipt.status, stored["r_status"])
    _check(report, height, f"{label} gas_used", receipt.gas_used, stored["r_gas_used"])
    _check(report, height, f"{label} gas_charged", receipt.gas_charged, stored["r_gas_charged"])
    _check(report, height, f"{label} events", canonical_json([e.to_dict() for e in receipt.events]),
           stored["r_events"])


def _compare_live_state(live: WorldState, shadow: WorldState, tip: int) -> list[Finding]:
    findings = []
    live_accounts = {a.address: a for a in live.accounts()}
    shadow_accounts = {a.address: a for a in shadow.accounts()}
    for address in sorted(set(live_accounts) | set(shadow_accounts)):
        mine, theirs = live_accounts.get(address), shadow_accounts.get(address)
        if mine != theirs:
            findings.append(Finding(tip, f"account {address}",
                                    f"stored {mine and mine.to_dict()} but re-execution gives "
                                    f"{theirs and theirs.to_dict()}"))
    live_storage = _storage(live)
    shadow_storage = _storage(shadow)
    for key in sorted(set(live_storage) | set(shadow_storage)):
        if live_storage.get(key) != shadow_storage.get(key):
            findings.append(Finding(tip, f"contract storage {key[0]}/{key[1]}",
                                    f"stored {live_storage.get(key)} but re-execution gives {shadow_storage.get(key)}"))
    return findings


def _storage(state: WorldState) -> dict[tuple[str, str], str]:
    return {(r[0], r[1]): r[2] for r in state.conn.execute("SELECT contract, key, value FROM contract_storage")}


def _check(report: VerifyReport, height: int, what: str, expected, found) -> None:
    if expected != found:
        report.findings.append(Finding(height, what, f"stored {_short(found)}, expected {_short(expected)}"))


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
