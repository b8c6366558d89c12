"""Re-check a whole chain from genesis: seals, hash links, Merkle roots, every signature, field types, nonce
continuity, and re-execution; then the genesis and head against the trust anchor and the hashes a user gives.

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
from engine.ledger.anchor import Pin
from engine.ledger.economy import economy_rows
from engine.ledger.findings import Finding
from engine.ledger.genesis import GENESIS_PREV_HASH, genesis_digest
from engine.ledger.records import seal_digest
from engine.ledger.rerun import RerunBlock, rerun_blocks
from engine.ledger.stateless import stateless_checks
from engine.ledger.verify_records import check_records
from engine.store.chain import ChainStore, StoredBlock, StoredTx
from engine.store.db import read_snapshot
from engine.store.state import SqliteState


@dataclass
class VerifyReport:
    blocks: int = 0
    transactions: int = 0
    seconds: float = 0.0
    signature_processes: int = 0  # worker processes that checked signatures (0: all checked in this process)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict:
        return {"ok": self.ok, "blocks": self.blocks, "transactions": self.transactions,
                "seconds": round(self.seconds, 3),
                "tx_per_second": round(self.transactions / self.seconds, 1) if self.seconds else None,
                "signature_processes": self.signature_processes,
                "findings": [f.to_dict() for f in self.findings]}


@dataclass(frozen=True)
class Expected:
    """What the chain is checked against besides itself: the anchor's pin and hashes the user gives."""
    pin: Pin | None = None
    genesis: str | None = None
    head: str | None = None


def verify_chain(conn: sqlite3.Connection, expected: Expected = Expected(),
                 on_block: Callable[[int], None] | None = None) -> VerifyReport:
    """Everything is read from one snapshot of the database, so a process writing meanwhile changes nothing."""
    started = time.perf_counter()
    with read_snapshot(conn):
        report = _verify(ChainStore(conn), expected, on_block)
    report.findings.sort(key=lambda f: (f.height is None, f.height or 0))
    report.seconds = time.perf_counter() - started
    return report


def _verify(store: ChainStore, expected: Expected, on_block: Callable[[int], None] | None) -> VerifyReport:
    report = VerifyReport()
    genesis = store.genesis()
    if genesis is None:
        report.findings.append(Finding(None, "genesis", "no genesis record in meta"))
        return report
    addresses = sorted(genesis["names"] if "names" in genesis else store.names())
    previous_hash, shadow, tip_hash = GENESIS_PREV_HASH, None, None
    sealed_roots: dict[int, str | None] = {}
    checks = stateless_checks()
    for rerun, shadow in rerun_blocks(store, checks):
        block, height = rerun.block, rerun.block.header.height
        sealed_roots[height] = block.events_root
        _verify_block(report, rerun, previous_hash, genesis)
        _check(report, height, "state_root (re-executed)", shadow.state_root(), block.header.state_root)
        _check(report, height, "economy snapshot (re-executed)", economy_rows(shadow, addresses),
               store.snapshot(height))
        previous_hash = tip_hash = block.stored_hash
        report.blocks += 1
        report.transactions += len(block.txs)
        if on_block:
            on_block(height)
    report.signature_processes = checks.processes
    if shadow is not None:
        report.findings.extend(_compare_live_state(SqliteState(store.conn), shadow, report.blocks - 1))
        report.findings.extend(check_records(store, genesis, sealed_roots, shadow.storage_rows()))
    report.findings.extend(_compare_anchors(store, genesis, expected, report.blocks - 1, tip_hash))
    return report


def _verify_block(report: VerifyReport, rerun: RerunBlock, previous_hash: str, genesis: dict) -> None:
    block = rerun.block
    header, height = block.header, block.header.height
    _check(report, height, "block hash", header.hash, block.stored_hash)
    _check(report, height, "prev_hash link", previous_hash, header.prev_hash)
    _check(report, height, "tx_count", len(block.txs), header.tx_count)
    _check_seal(report, block, genesis.get("sealer"))
    for stored, signed in zip(block.txs, rerun.signed):
        if stored.tx.hash != stored.stored_hash:  # the label is built only for a finding: this runs once per tx
            _check(report, height, f"tx {stored.stored_hash[:16]} hash", stored.tx.hash, stored.stored_hash)
        if not signed:
            report.findings.append(Finding(height, f"tx {stored.stored_hash[:16]} signature",
                                           "signature does not verify over the stored fields"))
    for stored, problem in rerun.refused:
        report.findings.append(Finding(height, f"tx {stored.stored_hash[:16]} not executable", problem))
    if height == 0:
        if header.merkle_root != merkle.EMPTY_ROOT:  # chains sealed after the fact keep their empty genesis root
            _check(report, 0, "genesis record (block 0 commits to it)", genesis_digest(genesis), header.merkle_root)
    else:
        _check(report, height, "merkle_root", merkle.merkle_root([s.tx.hash for s in block.txs]),
               header.merkle_root)
    for stored, receipt in zip(block.txs, rerun.receipts):
        if receipt is not None:
            _check_receipt(report, height, stored, receipt)


def _check_seal(report: VerifyReport, block: StoredBlock, sealer: str | None) -> None:
    height = block.header.height
    if block.seal is None:
        report.findings.append(Finding(height, "seal", "block has no seal"))
    elif sealer is None or not crypto.verify(sealer, block.seal, seal_digest(block.header.hash, block.events_root)):
        report.findings.append(Finding(height, "seal", "the seal is not the genesis sealer's signature over "
                                                       "this block's hash and events root"))


RECEIPT_FIELDS = ("status", "gas_used", "gas_charged", "revert_reason", "events")


def _check_receipt(report: VerifyReport, height: int, stored: StoredTx, receipt: Receipt) -> None:
    if stored.receipt is None:
        report.findings.append(Finding(height, f"tx {stored.stored_hash[:16]} receipt", "receipt missing"))
        return
    rerun = {"status": receipt.status, "gas_used": receipt.gas_used, "gas_charged": receipt.gas_charged,
             "revert_reason": receipt.revert_reason, "events": canonical_json([e.to_dict() for e in receipt.events])}
    if rerun != stored.receipt:  # one comparison per tx; the fields one by one only for a finding
        for name in RECEIPT_FIELDS:
            _check(report, height, f"tx {stored.stored_hash[:16]} receipt {name}", rerun[name], stored.receipt[name])


def _compare_anchors(store: ChainStore, genesis: dict, expected: Expected, tip: int,
                     tip_hash: str | None) -> list[Finding]:
    findings = []

    def against(what: str, height: int, wanted: str, found: str | None) -> None:
        if wanted != found:
            findings.append(Finding(height, what, f"stored {found}, expected {wanted}"))

    if expected.pin is not None:
        against("genesis (pinned beside the keys)", 0, expected.pin.genesis, store.block_hash(0))
        against("genesis record (pinned beside the keys)", 0, expected.pin.config, genesis_digest(genesis))
        if expected.pin.head_height > tip:
            findings.append(Finding(expected.pin.head_height, "head (pinned beside the keys)",
                                    f"the chain ends at block {tip}, below the pinned head "
                                    f"#{expected.pin.head_height} {expected.pin.head_hash[:16]}"))
        else:
            against("head (pinned beside the keys)", expected.pin.head_height, expected.pin.head_hash,
                    store.block_hash(expected.pin.head_height))
    if expected.genesis is not None:
        against("genesis (--expect-genesis)", 0, expected.genesis, store.block_hash(0))
    if expected.head is not None:
        against("head (--expect-head)", tip, expected.head, tip_hash)
    return findings


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
