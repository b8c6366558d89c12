"""Run a stored chain again from genesis on a scratch state, block by block."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from engine.chain.types import Receipt
from engine.chain.wellformed import field_problem
from engine.contracts.registry import method_for, validate_payload
from engine.contracts.schema import MalformedPayload
from engine.ledger.genesis import apply_genesis, config_of
from engine.ledger.memory_state import MemoryState
from engine.ledger.signatures import SignatureJob, check_signatures, signature_job, signature_processes
from engine.ledger.vm import NotExecutable, apply_tx
from engine.parallel import AheadMap
from engine.store.chain import ChainStore, StoredBlock, StoredTx

CHUNK = 2000  # signature checks sent to a worker process at once; a chain shorter than two is checked here


@dataclass(frozen=True)
class RerunBlock:
    block: StoredBlock
    receipts: list[Receipt | None]  # None where the tx could not run again (see `refused`)
    refused: list[tuple[StoredTx, str]]  # txs the VM or the admission rules refuse, and why
    signed: list[bool]  # whether each tx's signature verifies for its sender


def signature_checks() -> AheadMap:
    """Checks a chain's signatures in worker processes, ahead of the block being run again."""
    return AheadMap(check_signatures, signature_processes())


def rerun_blocks(store: ChainStore, checks: AheadMap | None = None) -> Iterator[tuple[RerunBlock, MemoryState]]:
    """Each stored block, what its transactions give when run again, and the scratch state after it; `checks`
    (by default `signature_checks()`) checks the signatures, in chunks of whole blocks."""
    genesis = store.genesis()
    config = config_of(genesis)
    shadow = MemoryState()
    apply_genesis(shadow, genesis)
    for block, signed in _signed_blocks(store.stored_blocks(), checks or signature_checks()):
        receipts, refused = [], []
        for stored in block.txs:
            receipt, problem = _run_again(shadow, config, stored, block)
            receipts.append(receipt)
            if problem:
                refused.append((stored, problem))
        yield RerunBlock(block, receipts, refused, signed), shadow


def _signed_blocks(blocks: Iterator[StoredBlock], checks: AheadMap) -> Iterator[tuple[StoredBlock, list[bool]]]:
    for batch, signed in checks.run(_signature_batches(blocks)):
        start = 0
        for block in batch:
            yield block, signed[start:start + len(block.txs)]
            start += len(block.txs)


def _signature_batches(blocks: Iterator[StoredBlock]
                       ) -> Iterator[tuple[list[StoredBlock], list[SignatureJob | None]]]:
    batch, jobs = [], []
    for block in blocks:
        batch.append(block)
        jobs.extend(signature_job(stored.tx) for stored in block.txs)
        if len(jobs) >= CHUNK:
            yield batch, jobs
            batch, jobs = [], []
    if batch:
        yield batch, jobs


def _run_again(shadow, config, stored: StoredTx, block: StoredBlock) -> tuple[Receipt | None, str | None]:
    problem = shape_problem(stored.tx)
    if problem:
        return None, problem
    try:
        return apply_tx(shadow, config, stored.tx, block.header.height, block.header.timestamp), None
    except NotExecutable as exc:
        return None, str(exc)


def shape_problem(tx) -> str | None:
    """Fields, type and payload as admission requires them (what a tx read back from a file may lack)."""
    problem = field_problem(tx)
    if problem or method_for(tx.tx_type) is None:
        return problem or f"unknown tx type {tx.tx_type!r}"
    try:
        validate_payload(tx.tx_type, tx.payload)
    except MalformedPayload as exc:
        return str(exc)
    return None
