"""Re-check a whole chain from genesis: hash links, Merkle roots, every signature, and re-execution.

Re-execution runs every transaction again on a fresh in-memory state with the same VM and compares each
receipt, each block's state root and each block's economy snapshot with what is stored; finally the live state
tables are compared with the re-executed state, so an edited balance is caught even where no block records it.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Callable

from engine.chain import crypto, merkle
from engine.chain.types import Receipt, canonical_json
from engine.ledger.economy import economy_rows
from engine.ledger.genesis import GENESIS_PREV_HASH
from engine.ledger.rerun import rerun_blocks
from engine.store.chain import ChainStore, StoredBlock, StoredTx
from engine.store.state import SqliteState


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
    started = time.perf_counter()
    report = VerifyReport()
    store = ChainStore(conn)
    if store.genesis() is None:
        report.findings.append(Finding(None, "genesis", "no genesis record in meta"))
        return report
    addresses = sorted(store.names())
    previous_hash = GENESIS_PREV_HASH
    shadow = None
    for block, receipts, shadow in rerun_blocks(store):
        _verify_block(report, block, receipts, previous_hash)
        height = block.header.height
        _check(report, height, "state_root (re-executed)", shadow.state_root(), block.header.state_root)
        _check(report, height, "economy snapshot (re-executed)", economy_rows(shadow, addresses),
               store.snapshot(height))
        previous_hash = block.stored_hash
        report.blocks += 1
        report.transactions += len(block.txs)
        if on_block:
            on_block(height)
    if shadow is not None:
        report.findings.extend(_compare_live_state(SqliteState(conn), shadow, report.blocks - 1))
    report.seconds = time.perf_counter() - started
    return report


def _verify_block(report: VerifyReport, block: StoredBlock, receipts: list[Receipt], previous_hash: str) -> None:
    header, height = block.header, block.header.height
    _check(report, height, "block hash", header.hash, block.stored_hash)
    _check(report, height, "prev_hash link", previous_hash, header.prev_hash)
    _check(report, height, "tx_count", len(block.txs), header.tx_count)
    for stored in block.txs:
        _verify_tx(report, height, stored)
    _check(report, height, "merkle_root", merkle.merkle_root([s.tx.hash for s in block.txs]), header.merkle_root)
    for stored, receipt in zip(block.txs, receipts):
        _check_receipt(report, height, stored, receipt)


def _verify_tx(report: VerifyReport, height: int, stored: StoredTx) -> None:
    tx, label = stored.tx, f"tx {stored.stored_hash[:16]}"
    _check(report, height, f"{label} hash", tx.hash, stored.stored_hash)
    if crypto.address_of(tx.public_key) != tx.sender or not crypto.verify(tx.public_key, tx.signature,
                                                                          tx.signing_digest()):
        report.findings.append(Finding(height, f"{label} signature",
                                       "signature does not verify over the stored fields"))


def _check_receipt(report: VerifyReport, height: int, stored: StoredTx, receipt: Receipt) -> None:
    label = f"tx {stored.stored_hash[:16]} receipt"
    if stored.receipt is None:
        report.findings.append(Finding(height, label, "receipt missing"))
        return
    _check(report, height, f"{label} status", receipt.status, stored.receipt["status"])
    _check(report, height, f"{label} gas_used", receipt.gas_used, stored.receipt["gas_used"])
    _check(report, height, f"{label} gas_charged", receipt.gas_charged, stored.receipt["gas_charged"])
    _check(report, height, f"{label} events", canonical_json([e.to_dict() for e in receipt.events]),
           stored.receipt["events"])


def _compare_live_state(live: SqliteState, shadow: SqliteState, tip: int) -> list[Finding]:
    findings = []
    live_accounts = {a.address: a for a in live.accounts()}
    shadow_accounts = {a.address: a for a in shadow.accounts()}
    for address in sorted(set(live_accounts) | set(shadow_accounts)):
        mine, theirs = live_accounts.get(address), shadow_accounts.get(address)
        if mine != theirs:
            findings.append(Finding(tip, f"account {address}",
                                    f"stored {mine and mine.to_dict()} but re-execution gives "
                                    f"{theirs and theirs.to_dict()}"))
    live_storage, shadow_storage = live.storage_rows(), shadow.storage_rows()
    for key in sorted(set(live_storage) | set(shadow_storage)):
        if live_storage.get(key) != shadow_storage.get(key):
            findings.append(Finding(tip, f"contract storage {key[0]}/{key[1]}",
                                    f"stored {live_storage.get(key)} but re-execution gives {shadow_storage.get(key)}"))
    return findings


def _check(report: VerifyReport, height: int, what: str, expected, found) -> None:
    if expected != found:
        report.findings.append(Finding(height, what, f"stored {_short(found)}, expected {_short(expected)}"))


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
