"""Run a stored chain again from genesis on a scratch state, block by block."""
from __future__ import annotations

from typing import Iterator

from engine.chain.types import Receipt
from engine.ledger.genesis import apply_genesis, config_of
from engine.ledger.vm import apply_tx
from engine.store.chain import ChainStore, StoredBlock
from engine.store.db import transaction
from engine.store.state import SqliteState


def rerun_blocks(store: ChainStore) -> Iterator[tuple[StoredBlock, list[Receipt], SqliteState]]:
    """Each stored block, the receipts its transactions give again, and the scratch state after it."""
    genesis = store.genesis()
    config = config_of(genesis)
    shadow = SqliteState.scratch()
    with transaction(shadow.conn):
        apply_genesis(shadow, genesis)
        for block in store.stored_blocks():
            receipts = [apply_tx(shadow, config, stored.tx, block.header.height, block.header.timestamp)
                        for stored in block.txs]
            yield block, receipts, shadow
