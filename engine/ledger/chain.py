"""The chain: genesis, admission into the mempool, mining and sealing blocks, and reading blocks, txs and proofs
back. Every block is sealed by the key in the trust anchor beside the database (proof of authority, as geth's
Clique); the anchor pins the genesis and the newest head."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import asdict
from typing import Callable, Iterable, Iterator

from engine.chain import crypto, merkle
from engine.chain.config import CHAIN_ID, VOTING_PERIOD_BLOCKS
from engine.chain.crypto import PrivateKey
from engine.chain.types import Block, BlockHeader, Receipt, Transaction
from engine.clock import SystemClock
from engine.ledger.anchor import Anchor, AnchorMissing
from engine.ledger.economy import backfill_snapshots, economy_rows
from engine.ledger.genesis import GENESIS_PREV_HASH, apply_genesis, config_of, genesis_digest
from engine.ledger.memory_state import MemoryState
from engine.ledger.mempool import Mempool, TxRejected
from engine.ledger.records import RESOLVE_TX, event_hash, events_root, seal_digest
from engine.ledger.signatures import signed_by_sender
from engine.ledger.stateless import Checked, adopt_hashes, stateless_checks, tx_job
from engine.ledger.vm import NotExecutable, apply_tx, gas_required
from engine.store.chain import ChainStore
from engine.store.db import transaction
from engine.store.runs import RunStore
from engine.store.state import SqliteState

BlockHook = Callable[[Block, list[Receipt]], None]
Order = tuple[PrivateKey, str, dict, int]  # key, tx_type, payload, gas_price


class ChainError(RuntimeError):
    pass


class Chain:
    def __init__(self, conn: sqlite3.Connection, anchor: Anchor, clock=None):
        self.conn = conn
        self.anchor = anchor
        self.store = ChainStore(conn)
        self.runs = RunStore(conn)
        self.state = SqliteState(conn)
        self.clock = clock or SystemClock()
        self.config = config_of(self.store.genesis())
        self.mempool = Mempool(self.config) if self.config else None
        self.named = sorted(self.store.names())
        self.dropped: list[tuple[Transaction, str]] = []  # txs mining found no longer executable, and why
        self._backfill_snapshots()
        if self.config:
            self._check_anchor()

    def _backfill_snapshots(self) -> None:
        if self.store.snapshots_pending():
            with transaction(self.conn):
                if self.store.snapshots_pending():  # another process may have done it while we waited
                    backfill_snapshots(self.store)

    def _check_anchor(self) -> None:
        """The sealer key must be the one genesis names; a chain from before sealing gets sealed once here."""
        if self.store.seals_pending() and self.anchor.pin() is None:
            with transaction(self.conn):
                self._seal_legacy_chain()
        if not self.anchor.has_sealer() or self.anchor.sealer().public_key != self.store.genesis().get("sealer"):
            raise AnchorMissing(f"the sealer key at {self.anchor.directory} is missing or is not the one this "
                                "chain's genesis names; copy the database together with its .keys directory")
        if self.anchor.pin() is None:  # the process that wrote genesis died before pinning it
            self._pin_genesis(self.store.genesis())
            self.anchor.advance(self.height, self.tip_hash)

    def _seal_legacy_chain(self) -> None:
        genesis = {**self.store.genesis(), "sealer": self.anchor.sealer().public_key}
        self.store.save_genesis(genesis, self.store.names())
        for stored in self.store.stored_blocks():
            self.store.save_seal(stored.header.height, self.seal(stored.stored_hash, None))
        self.store.seals_done()
        self._pin_genesis(genesis)
        self.anchor.advance(self.height, self.tip_hash)

    def _pin_genesis(self, genesis: dict) -> None:
        self.anchor.pin_genesis(self.store.block_hash(0), genesis_digest(genesis))

    def seal(self, block_hash: str, committed_events_root: str | None) -> str:
        return self.anchor.sealer().sign_digest(seal_digest(block_hash, committed_events_root))

    # ---- genesis -------------------------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return self.config is not None

    def create_genesis(self, alloc: dict[str, int], authority: str, members: list[str],
                       names: dict[str, str] | None = None, chain_id: str = CHAIN_ID,
                       voting_period_blocks: int = VOTING_PERIOD_BLOCKS) -> Block:
        if self.initialised:
            raise ChainError("the database already holds a chain; run `rca-tui reset` to start over")
        genesis = {"chain_id": chain_id, "authority": authority, "members": sorted(members),
                   "voting_period_blocks": voting_period_blocks, "alloc": alloc, "names": names or {},
                   "sealer": self.anchor.sealer().public_key, "timestamp": self.clock.now_ms()}
        self.named = sorted(names or {})
        with transaction(self.conn):
            apply_genesis(self.state, genesis)
            # block 0 commits to the whole genesis record, so pinning its hash pins authority, members and sealer
            header = BlockHeader(chain_id, 0, GENESIS_PREV_HASH, genesis_digest(genesis), self.state.state_root(),
                                 genesis["timestamp"], 0)
            self.store.save_genesis(genesis, names or {})
            self._commit_block(Block(header), [])
            self._seal_block(Block(header))
        self._pin_genesis(genesis)
        self.config = config_of(genesis)
        self.mempool = Mempool(self.config)
        return Block(header)

    # ---- transactions --------------------------------------------------------------------------------------
    def build_tx(self, key: PrivateKey, tx_type: str, payload: dict, to: str | None = None,
                 gas_price: int = 1, gas_limit: int | None = None, nonce: int | None = None) -> Transaction:
        """A signed transaction from `key` (by default with the next free nonce and enough gas for its type)."""
        nonce = self.next_nonce(key.address) if nonce is None else nonce
        unsigned = Transaction(self.config.chain_id, key.address, to, nonce, tx_type,
                               payload, gas_price, 0, self.clock.now_ms())
        limit = gas_limit if gas_limit is not None else gas_required(unsigned) + 100
        unsigned = Transaction(**{**asdict(unsigned), "gas_limit": limit})
        return unsigned.with_signature(key.public_key, key.sign_digest(unsigned.signing_digest()))

    def next_nonce(self, address: str) -> int:
        return self.mempool.next_nonce(address, self.state)

    def submit(self, tx: Transaction) -> str:
        """Admit into the mempool or raise TxRejected (with a reason code); state is never touched."""
        self.mempool.admit(tx, self.state)
        return tx.hash

    def mine_batches(self, batches: Iterable[list[Transaction]]) -> Iterator[tuple[Block | None, list[TxRejected]]]:
        """Admit each batch of txs and mine what was admitted as one block, yielding the block (None if nothing
        was pending) and the batch's rejections. The stateless checks of the next batches (signature, field
        types, payload) run in a worker process while this one is admitted and executed."""
        checks = stateless_checks()
        for batch, checked in checks.run((batch, [tx_job(tx) for tx in batch]) for batch in batches):
            rejected = self._admit_checked(batch, checked)
            yield self.mine(), rejected

    def _admit_checked(self, txs: list[Transaction], checked: list[Checked]) -> list[TxRejected]:
        rejected, accounts = [], MemoryState(self.state)  # reads each sender's account once
        for tx, tx_checked in zip(txs, checked):
            adopt_hashes(tx, tx_checked)
            try:
                self.mempool.admit(tx, accounts, stateless_ok=tx_checked[1] and tx_checked[2] is None)
            except TxRejected as exc:
                rejected.append(exc)
        return rejected

    def sign_and_mine(self, key: PrivateKey, tx_type: str, payload: dict, gas_price: int = 1,
                      hook: BlockHook | None = None) -> tuple[Transaction, Block]:
        """Sign the next tx of `key` and mine it, choosing the nonce under the write lock so that another
        process writing to the same database queues behind this one instead of reusing the nonce."""
        txs, block = self.sign_and_mine_all([(key, tx_type, payload, gas_price)], hook)
        return txs[0], block

    def sign_and_mine_all(self, orders: list[Order], hook: BlockHook | None = None
                          ) -> tuple[list[Transaction], Block]:
        """Sign every (key, tx_type, payload, gas_price) in order and mine them together in one block (one phase
        of the protocol: a settlement, the stake top-ups)."""
        with self.writing():
            return self.sign_and_mine_locked(orders, hook)

    def sign_and_mine_locked(self, orders: list[Order], hook: BlockHook | None = None
                             ) -> tuple[list[Transaction], Block]:
        """`sign_and_mine_all` for a caller already inside `writing()`. Nothing stays in the mempool if any
        order is refused or the block fails."""
        txs: list[Transaction] = []
        try:
            for key, tx_type, payload, gas_price in orders:
                txs.append(self.build_tx(key, tx_type, payload, gas_price=gas_price))
                self.submit(txs[-1])
            return txs, self._mine_locked(None, hook)
        except BaseException:
            self.mempool.remove(txs)
            raise

    def mine(self, max_txs: int | None = None, hook: BlockHook | None = None,
             allow_empty: bool = False) -> Block | None:
        """Execute pending txs and commit the block, its seal, txs, receipts, state, economy snapshot and `hook`'s
        writes at once. Txs another writer made stale (nonce taken, balance spent) are dropped into `dropped`."""
        if not self.mempool.pending and not allow_empty:
            return None
        with self.writing():
            return self._mine_locked(max_txs, hook)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the database's write lock: what the caller writes and the blocks it mines inside commit together
        (or not at all), and the anchor's pinned head moves once they are committed."""
        with self._write_lock():
            yield
        self.anchor.advance(self.height, self.tip_hash)

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        try:
            with transaction(self.conn):
                yield
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise ChainError(f"the database is busy: another process held its write lock too long ({exc})") from exc

    def _mine_locked(self, max_txs: int | None, hook: BlockHook | None) -> Block:
        candidates = self.mempool.take(max_txs)
        height, timestamp = self.height + 1, self.clock.now_ms()
        mined, receipts = [], []
        block_state = MemoryState(self.state)
        for tx in candidates:
            try:
                receipts.append(apply_tx(block_state, self.config, tx, height, timestamp))
                mined.append(tx)
            except NotExecutable as exc:
                self.dropped.append((tx, str(exc)))
        block_state.flush()
        header = BlockHeader(self.config.chain_id, height, self.tip_hash,
                             merkle.merkle_root([tx.hash for tx in mined]), self.state.state_root(),
                             timestamp, len(mined))
        block = Block(header, tuple(mined))
        self._commit_block(block, receipts)
        if hook:
            hook(block, receipts)
        self._seal_block(block)
        self.mempool.remove(candidates)
        return block

    def _commit_block(self, block: Block, receipts: list[Receipt]) -> None:
        self.store.insert_block(block.header)
        self.store.insert_transactions(block, receipts)
        self.store.save_snapshot(block.height, economy_rows(self.state, self.named))

    def _seal_block(self, block: Block) -> None:
        """Commit the run events written since the last block (this block's own included) and sign the block
        hash together with their Merkle root."""
        pending, hashes, root = self.pending_commitment()
        self.runs.commit_events(block.height, [(row[0], row[1], digest) for row, digest in zip(pending, hashes)])
        self.store.save_seal(block.height, self.seal(block.hash, root), root)

    def pending_commitment(self) -> tuple[list[tuple], list[str], str | None]:
        """The run events not yet committed by a block, their hashes, and the Merkle root a seal signs."""
        pending = self.runs.pending_events()
        hashes = [event_hash(row) for row in pending]
        return pending, hashes, events_root(hashes)

    # ---- reads ---------------------------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.store.height()

    @property
    def tip_hash(self) -> str:
        return self.store.tip_hash() or GENESIS_PREV_HASH

    def blocks(self, limit: int) -> list[dict]:
        return self.store.blocks(limit)

    def block(self, height: int) -> Block | None:
        return self.store.block(height)

    def transaction(self, tx_hash: str) -> tuple[Transaction, Receipt, int] | None:
        return self.store.transaction(tx_hash)

    def reverted_tx_hashes(self, height: int) -> set[str]:
        """The txs of block `height` whose receipt is not a success (reverted: their effects rolled back)."""
        return self.store.reverted_tx_hashes(height)

    def find_tx_hashes(self, prefix: str, limit: int = 20) -> list[str]:
        return self.store.find_tx_hashes(prefix, limit)

    def proof(self, tx_hash: str) -> tuple[merkle.MerkleProof, str, int]:
        """Inclusion proof of a mined tx, the block's stored Merkle root, and the block height."""
        found = self.transaction(tx_hash)
        if found is None:
            raise ChainError(f"no mined transaction {tx_hash}")
        _, _, height = found
        hashes = self.store.tx_hashes(height)
        return merkle.build_proof(hashes, hashes.index(tx_hash)), self.store.merkle_root(height), height

    def names(self) -> dict[str, str]:
        return self.store.names()

    def signed_resolutions(self, run_id: str) -> list[tuple[Transaction, int]]:
        """The run's `incident.resolve` txs (with their block heights) that prove themselves: signed by the
        genesis authority, inside a block whose hash, Merkle root and seal check out, and executed successfully."""
        proven = []
        for tx_hash in self.store.tx_hashes_naming_run(RESOLVE_TX, run_id):
            tx, receipt, height = self.store.transaction(tx_hash)
            if tx.hash == tx_hash and tx.sender == self.config.authority and receipt.ok and signed_by_sender(tx) \
                    and self._block_proves(height, tx_hash):
                proven.append((tx, height))
        return proven

    def _block_proves(self, height: int, tx_hash: str) -> bool:
        block, seal = self.store.block(height), self.store.seal_of(height)
        hashes = [tx.hash for tx in block.transactions]
        return (seal is not None and block.hash == self.store.block_hash(height) and tx_hash in hashes
                and merkle.merkle_root(hashes) == block.header.merkle_root
                and crypto.verify(self.store.genesis()["sealer"], seal[0], seal_digest(block.hash, seal[1])))

    def economy_snapshots(self, first: int, last: int) -> dict[int, list[dict]]:
        """The named accounts' rows saved with each block from `first` to `last`, by height."""
        return self.store.snapshots(first, last)
