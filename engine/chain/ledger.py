"""The chain: genesis, admission into the mempool, mining blocks, and reading blocks, txs and proofs back."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from typing import Callable

from engine.chain import merkle
from engine.chain.crypto import PrivateKey
from engine.chain.mempool import Mempool
from engine.chain.state import WorldState
from engine.chain.types import (
    CHAIN_ID, Account, Block, BlockHeader, Event, Receipt, Transaction, canonical_json,
)
from engine.chain.vm import execute, gas_required
from engine.clock import SystemClock
from engine.contracts.base import TREASURY, ChainConfig
from engine.store.db import transaction

GENESIS_PREV_HASH = "0" * 64
BlockHook = Callable[[sqlite3.Connection, Block, list[Receipt]], None]


class ChainError(RuntimeError):
    pass


class Chain:
    def __init__(self, conn: sqlite3.Connection, clock=None):
        self.conn = conn
        self.state = WorldState(conn)
        self.clock = clock or SystemClock()
        self.config = load_config(conn)
        self.mempool = Mempool(self.config.chain_id) if self.config else None

    # ---- genesis -------------------------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return self.config is not None

    def create_genesis(self, alloc: dict[str, int], authority: str, members: list[str],
                       names: dict[str, str] | None = None, chain_id: str = CHAIN_ID,
                       voting_period_blocks: int = 20) -> Block:
        if self.initialised:
            raise ChainError("the database already holds a chain; run `rca-tui reset` to start over")
        genesis = {"chain_id": chain_id, "authority": authority, "members": sorted(members),
                   "voting_period_blocks": voting_period_blocks, "alloc": alloc,
                   "timestamp": self.clock.now_ms()}
        with transaction(self.conn):
            apply_genesis(self.state, genesis)
            header = BlockHeader(chain_id, 0, GENESIS_PREV_HASH, merkle.EMPTY_ROOT, self.state.state_root(),
                                 genesis["timestamp"], 0)
            self.conn.execute("INSERT INTO meta (key, value) VALUES ('genesis', ?)", (canonical_json(genesis),))
            self.conn.executemany("INSERT OR REPLACE INTO names (address, name) VALUES (?, ?)",
                                  sorted((names or {}).items()))
            _insert_block(self.conn, header)
        self.config = load_config(self.conn)
        self.mempool = Mempool(chain_id)
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

    def mine(self, max_txs: int | None = None, hook: BlockHook | None = None,
             allow_empty: bool = False) -> Block | None:
        """Execute pending txs and commit the block, its txs, receipts, state and `hook`'s writes at once."""
        candidates = self.mempool.take(max_txs)
        if not candidates and not allow_empty:
            return None
        with transaction(self.conn):
            height = self.height + 1
            timestamp = self.clock.now_ms()
            receipts = [execute(self.state, self.config, tx, height, timestamp) for tx in candidates]
            header = BlockHeader(self.config.chain_id, height, self.tip_hash,
                                 merkle.merkle_root([tx.hash for tx in candidates]), self.state.state_root(),
                                 timestamp, len(candidates))
            block = Block(header, tuple(candidates))
            _insert_block(self.conn, header)
            _insert_transactions(self.conn, block, receipts)
            if hook:
                hook(self.conn, block, receipts)
        self.mempool.remove(candidates)
        return block

    # ---- reads ---------------------------------------------------------------------------------------------
    @property
    def height(self) -> int:
        row = self.conn.execute("SELECT MAX(height) FROM blocks").fetchone()
        return -1 if row[0] is None else row[0]

    @property
    def tip_hash(self) -> str:
        row = self.conn.execute("SELECT hash FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
        return row[0] if row else GENESIS_PREV_HASH

    def block(self, height: int) -> Block | None:
        row = self.conn.execute("SELECT * FROM blocks WHERE height = ?", (height,)).fetchone()
        if row is None:
            return None
        txs = [tx_from_row(r) for r in self.conn.execute(
            "SELECT * FROM transactions WHERE block_height = ? ORDER BY position", (height,))]
        return Block(header_from_row(row), tuple(txs))

    def transaction(self, tx_hash: str) -> tuple[Transaction, Receipt, int] | None:
        row = self.conn.execute("SELECT * FROM transactions WHERE hash = ?", (tx_hash,)).fetchone()
        if row is None:
            return None
        receipt_row = self.conn.execute("SELECT * FROM receipts WHERE tx_hash = ?", (tx_hash,)).fetchone()
        return tx_from_row(row), receipt_from_row(receipt_row), row["block_height"]

    def find_tx_hashes(self, prefix: str, limit: int = 20) -> list[str]:
        rows = self.conn.execute("SELECT hash FROM transactions WHERE hash >= ? AND hash < ? ORDER BY hash LIMIT ?",
                                 (prefix.lower(), prefix.lower() + "g", limit))
        return [r[0] for r in rows]

    def proof(self, tx_hash: str) -> tuple[merkle.MerkleProof, str, int]:
        """Inclusion proof of a mined tx, the block's stored Merkle root, and the block height."""
        found = self.transaction(tx_hash)
        if found is None:
            raise ChainError(f"no mined transaction {tx_hash}")
        _, _, height = found
        hashes = [r[0] for r in self.conn.execute(
            "SELECT hash FROM transactions WHERE block_height = ? ORDER BY position", (height,))]
        stored_root = self.conn.execute("SELECT merkle_root FROM blocks WHERE height = ?", (height,)).fetchone()[0]
        return merkle.build_proof(hashes, hashes.index(tx_hash)), stored_root, height

    def names(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT address, name FROM names")}

    def accounts(self) -> list[Account]:
        return self.state.accounts()


def load_config(conn: sqlite3.Connection) -> ChainConfig | None:
    genesis = load_genesis(conn)
    if genesis is None:
        return None
    return ChainConfig(genesis["chain_id"], genesis["authority"], tuple(genesis["members"]),
                       genesis["voting_period_blocks"])


def load_genesis(conn: sqlite3.Connection) -> dict | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'genesis'").fetchone()
    return json.loads(row[0]) if row else None


def apply_genesis(state: WorldState, genesis: dict) -> None:
    for address, balance in sorted(genesis["alloc"].items()):
        state.put_account(Account(address, balance=balance))
    if not state.has_account(TREASURY):
        state.put_account(Account(TREASURY))


def _insert_block(conn: sqlite3.Connection, header: BlockHeader) -> None:
    conn.execute(
        "INSERT INTO blocks (height, hash, prev_hash, merkle_root, state_root, timestamp, tx_count, chain_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (header.height, header.hash, header.prev_hash, header.merkle_root, header.state_root, header.timestamp,
         header.tx_count, header.chain_id),
    )


def _insert_transactions(conn: sqlite3.Connection, block: Block, receipts: list[Receipt]) -> None:
    conn.executemany(
        "INSERT INTO transactions (hash, block_height, position, chain_id, sender, to_addr, nonce, tx_type,"
        " payload, gas_price, gas_limit, timestamp, public_key, signature)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(tx.hash, block.height, i, tx.chain_id, tx.sender, tx.to, tx.nonce, tx.tx_type, tx.payload_json(),
          tx.gas_price, tx.gas_limit, tx.timestamp, tx.public_key, tx.signature)
         for i, tx in enumerate(block.transactions)],
    )
    conn.executemany(
        "INSERT INTO receipts (tx_hash, status, gas_used, gas_charged, revert_reason, events)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(r.tx_hash, r.status, r.gas_used, r.gas_charged, r.revert_reason,
          canonical_json([e.to_dict() for e in r.events])) for r in receipts],
    )


def header_from_row(row: sqlite3.Row) -> BlockHeader:
    return BlockHeader(row["chain_id"], row["height"], row["prev_hash"], row["merkle_root"], row["state_root"],
                       row["timestamp"], row["tx_count"])


def tx_from_row(row: sqlite3.Row) -> Transaction:
    return Transaction(row["chain_id"], row["sender"], row["to_addr"], row["nonce"], row["tx_type"],
                       json.loads(row["payload"]), row["gas_price"], row["gas_limit"], row["timestamp"],
                       row["public_key"], row["signature"])


def receipt_from_row(row: sqlite3.Row) -> Receipt:
    events = tuple(Event(e["name"], e["contract"], e["data"]) for e in json.loads(row["events"]))
    return Receipt(row["tx_hash"], row["status"], row["gas_used"], row["gas_charged"], events, row["revert_reason"])
