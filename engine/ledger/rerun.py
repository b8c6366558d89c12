"""Run a stored chain again from genesis on a scratch state, block by block."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from engine.chain.types import Receipt
from engine.ledger.genesis import apply_genesis, config_of
from engine.ledger.memory_state import MemoryState
from engine.ledger.stateless import Checked, TxJob, adopt_hashes, stateless_checks, tx_job
from engine.ledger.vm import NotExecutable, apply_tx
from engine.parallel import AheadMap
from engine.store.chain import ChainStore, StoredBlock, StoredTx

CHUNK = 1000  # txs whose stateless checks go to a worker process at once; a chain shorter than two is checked here


@dataclass(frozen=True)
class RerunBlock:
    block: StoredBlock
    receipts: list[Receipt | None]  # None where the tx could not run again (see `refused`)
    refused: list[tuple[StoredTx, str]]  # txs the VM or the admission rules refuse, and why
    signed: list[bool]  # whether each tx's signature verifies for its sender


def rerun_blocks(store: ChainStore, checks: AheadMap | None = None) -> Iterator[tuple[RerunBlock, MemoryState]]:
    """Each stored block, what its transactions give when run again, and the scratch state after it; `checks`
    (by default `stateless_checks()`) checks signatures and shapes, in chunks of whole blocks."""
    genesis = store.genesis()
    config = config_of(genesis)
    shadow = MemoryState()
    apply_genesis(shadow, genesis)
    for block, checked in _checked_blocks(store.stored_blocks(), checks or stateless_checks()):
        receipts, refused = [], []
        for stored, tx_checked in zip(block.txs, checked):
            adopt_hashes(stored.tx, tx_checked)
            receipt, problem = _run_again(shadow, config, stored, block, tx_checked[2])
            receipts.append(receipt)
            if problem:
                refused.append((stored, problem))
        yield RerunBlock(block, receipts, refused, [signed for _, signed, _ in checked]), shadow


def _checked_blocks(blocks: Iterator[StoredBlock], checks: AheadMap) -> Iterator[tuple[StoredBlock, list[Checked]]]:
    for batch, checked in checks.run(_batches(blocks)):
        start = 0
        for block in batch:
            yield block, checked[start:start + len(block.txs)]
            start += len(block.txs)


def _batches(blocks: Iterator[StoredBlock]) -> Iterator[tuple[list[StoredBlock], list[TxJob]]]:
    batch, jobs = [], []
    for block in blocks:
        batch.append(block)
        jobs.extend(tx_job(stored.tx) for stored in block.txs)
        if len(jobs) >= CHUNK:
            yield batch, jobs
            batch, jobs = [], []
    if batch:
        yield batch, jobs


def _run_again(shadow, config, stored: StoredTx, block: StoredBlock,
               problem: str | None) -> tuple[Receipt | None, str | None]:
    if problem:
        return None, problem
    try:
        return apply_tx(shadow, config, stored.tx, block.header.height, block.header.timestamp), None
    except NotExecutable as exc:
        return None, str(exc)

