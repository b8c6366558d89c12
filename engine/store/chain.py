"""Blocks, transactions, receipts, genesis, account names and per-block economy snapshots.

Mining and verification run the block / transaction / receipt statements thousands of times a second, so those
stay raw SQL; genesis, names and snapshots are a handful of rows per block and go through sqlite-utils.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Iterator

from sqlite_utils import Database

from engine.chain.types import Block, BlockHeader, Event, Receipt, Transaction, canonical_json
from engine.store.schema import SEALS_PENDING, SNAPSHOTS_PENDING

BLOCK_COLUMNS = ("height", "hash", "prev_hash", "merkle_root", "state_root", "tx_count", "timestamp")


@dataclass(frozen=True)
class StoredTx:
    """A transaction as stored: its fields, the hash written beside them, and its receipt row (None if missing)."""
    tx: Transaction
    stored_hash: str
    receipt: dict | None


@dataclass(frozen=True)
class StoredBlock:
    header: BlockHeader
    stored_hash: str
    txs: list[StoredTx]
    seal: str | None  # the sealer's signature over the block hash and events root (None if the row is missing)
    events_root: str | None = None  # Merkle root of the run events this block committed (None before v4)


class ChainStore:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.db = Database(conn, recursive_triggers=False, execute_plugins=False)

    # ---- genesis and names ---------------------------------------------------------------------------------
    def genesis(self) -> dict | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'genesis'").fetchone()
        return json.loads(row[0]) if row else None

    def save_genesis(self, genesis: dict, names: dict[str, str]) -> None:
        self.db["meta"].insert({"key": "genesis", "value": canonical_json(genesis)}, replace=True)
        self.db["names"].insert_all(({"address": a, "name": n} for a, n in sorted(names.items())), replace=True)

    def names(self) -> dict[str, str]:
        return {row["address"]: row["name"] for row in self.db["names"].rows}

    # ---- writes of a mined block ---------------------------------------------------------------------------
    def insert_block(self, header: BlockHeader) -> None:
        self.conn.execute(
            "INSERT INTO blocks (height, hash, prev_hash, merkle_root, state_root, timestamp, tx_count, chain_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (header.height, header.hash, header.prev_hash, header.merkle_root, header.state_root, header.timestamp,
             header.tx_count, header.chain_id),
        )

    def save_seal(self, height: int, seal: str, events_root: str | None = None) -> None:
        self.conn.execute("INSERT OR REPLACE INTO seals (height, signature, events_root) VALUES (?, ?, ?)",
                          (height, seal, events_root))

    def seal_of(self, height: int) -> tuple[str, str | None] | None:
        """The block's seal and the events root it signs."""
        return self.conn.execute("SELECT signature, events_root FROM seals WHERE height = ?", (height,)).fetchone()

    def seals_pending(self) -> bool:
        return self.conn.execute("SELECT 1 FROM meta WHERE key = ?", (SEALS_PENDING,)).fetchone() is not None

    def seals_done(self) -> None:
        self.db["meta"].delete_where("key = ?", [SEALS_PENDING])

    def insert_transactions(self, block: Block, receipts: list[Receipt]) -> None:
        self.conn.executemany(
            "INSERT INTO transactions (hash, block_height, position, chain_id, sender, to_addr, nonce, tx_type,"
            " payload, gas_price, gas_limit, timestamp, public_key, signature)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(tx.hash, block.height, i, tx.chain_id, tx.sender, tx.to, tx.nonce, tx.tx_type, tx.payload_json(),
              tx.gas_price, tx.gas_limit, tx.timestamp, tx.public_key, tx.signature)
             for i, tx in enumerate(block.transactions)],
        )
        self.conn.executemany(
            "INSERT INTO receipts (tx_hash, status, gas_used, gas_charged, revert_reason, events)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(r.tx_hash, r.status, r.gas_used, r.gas_charged, r.revert_reason,
              canonical_json([e.to_dict() for e in r.events])) for r in receipts],
        )

    # ---- economy snapshots ---------------------------------------------------------------------------------
    def save_snapshot(self, height: int, rows: list[dict]) -> None:
        self.db["economy_snapshots"].insert_all(({"height": height, **row} for row in rows), replace=True)

    def snapshots(self, first: int, last: int) -> dict[int, list[dict]]:
        """The rows saved after each block from `first` to `last`, by height, each row without its height."""
        found: dict[int, list[dict]] = {}
        for row in self.db["economy_snapshots"].rows_where("height BETWEEN ? AND ?", [first, last],
                                                           order_by="height, address"):
            found.setdefault(row.pop("height"), []).append(row)
        return found

    def snapshot(self, height: int) -> list[dict]:
        return self.snapshots(height, height).get(height, [])

    def snapshots_pending(self) -> bool:
        return self.conn.execute("SELECT 1 FROM meta WHERE key = ?", (SNAPSHOTS_PENDING,)).fetchone() is not None

    def snapshots_done(self) -> None:
        self.db["meta"].delete_where("key = ?", [SNAPSHOTS_PENDING])

    # ---- reads ---------------------------------------------------------------------------------------------
    def height(self) -> int:
        row = self.conn.execute("SELECT MAX(height) FROM blocks").fetchone()
        return -1 if row[0] is None else row[0]

    def tip_hash(self) -> str | None:
        row = self.conn.execute("SELECT hash FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def blocks(self, limit: int) -> list[dict]:
        """The newest `limit` blocks, newest first, as plain rows."""
        rows = self.conn.execute(f"SELECT {', '.join(BLOCK_COLUMNS)} FROM blocks ORDER BY height DESC LIMIT ?",
                                 (limit,))
        return [dict(row) for row in rows]

    def block(self, height: int) -> Block | None:
        row = self.conn.execute("SELECT * FROM blocks WHERE height = ?", (height,)).fetchone()
        if row is None:
            return None
        txs = [_tx(r) for r in self.conn.execute(
            "SELECT * FROM transactions WHERE block_height = ? ORDER BY position", (height,))]
        return Block(_header(row), tuple(txs))

    def transaction(self, tx_hash: str) -> tuple[Transaction, Receipt, int] | None:
        row = self.conn.execute("SELECT * FROM transactions WHERE hash = ?", (tx_hash,)).fetchone()
        if row is None:
            return None
        receipt_row = self.conn.execute("SELECT * FROM receipts WHERE tx_hash = ?", (tx_hash,)).fetchone()
        return _tx(row), _receipt(receipt_row), row["block_height"]

    def reverted_tx_hashes(self, height: int) -> set[str]:
        rows = self.conn.execute("SELECT t.hash FROM transactions t JOIN receipts r ON r.tx_hash = t.hash"
                                 " WHERE t.block_height = ? AND r.status != 'success'", (height,))
        return {r[0] for r in rows}

    def find_tx_hashes(self, prefix: str, limit: int) -> list[str]:
        rows = self.conn.execute("SELECT hash FROM transactions WHERE hash >= ? AND hash < ? ORDER BY hash LIMIT ?",
                                 (prefix.lower(), prefix.lower() + "g", limit))
        return [r[0] for r in rows]

    def tx_hashes(self, height: int) -> list[str]:
        rows = self.conn.execute("SELECT hash FROM transactions WHERE block_height = ? ORDER BY position", (height,))
        return [r[0] for r in rows]

    def block_hash(self, height: int) -> str | None:
        row = self.conn.execute("SELECT hash FROM blocks WHERE height = ?", (height,)).fetchone()
        return row[0] if row else None

    def tx_hashes_naming_run(self, tx_type: str, run_id: str) -> list[str]:
        """Mined txs of `tx_type` whose payload names `run_id`, oldest first."""
        rows = self.conn.execute("SELECT hash FROM transactions WHERE tx_type = ? AND"
                                 " json_extract(payload, '$.run_id') = ? ORDER BY block_height, position",
                                 (tx_type, run_id))
        return [r[0] for r in rows]

    def merkle_root(self, height: int) -> str:
        return self.conn.execute("SELECT merkle_root FROM blocks WHERE height = ?", (height,)).fetchone()[0]

    def stored_blocks(self) -> Iterator[StoredBlock]:
        """Every block from genesis with its transactions and receipt rows, streamed in two ordered cursors."""
        txs = self._stored_txs()
        pending = next(txs, None)
        for row in self.conn.execute("SELECT b.*, s.signature AS seal, s.events_root FROM blocks b"
                                     " LEFT JOIN seals s ON s.height = b.height ORDER BY b.height"):
            block_txs = []
            while pending is not None and pending[0] == row["height"]:
                block_txs.append(pending[1])
                pending = next(txs, None)
            yield StoredBlock(_header(row), row["hash"], block_txs, row["seal"], row["events_root"])

    def _stored_txs(self) -> Iterator[tuple[int, StoredTx]]:
        cursor = self.conn.execute(
            "SELECT t.block_height, t.hash, t.chain_id, t.sender, t.to_addr, t.nonce, t.tx_type, t.payload,"
            " t.gas_price, t.gas_limit, t.timestamp, t.public_key, t.signature, r.tx_hash, r.status, r.gas_used,"
            " r.gas_charged, r.revert_reason, r.events"
            " FROM transactions t LEFT JOIN receipts r ON r.tx_hash = t.hash ORDER BY t.block_height, t.position")
        cursor.row_factory = None  # plain tuples: this runs once per tx of the chain
        for (height, tx_hash, chain_id, sender, to, nonce, tx_type, payload, gas_price, gas_limit, timestamp,
             public_key, signature, receipt_hash, status, gas_used, gas_charged, revert_reason, events) in cursor:
            receipt = None if receipt_hash is None else {
                "status": status, "gas_used": gas_used, "gas_charged": gas_charged, "revert_reason": revert_reason,
                "events": events}
            tx = Transaction(chain_id, sender, to, nonce, tx_type, json.loads(payload), gas_price, gas_limit,
                             timestamp, public_key, signature)
            yield height, StoredTx(tx, tx_hash, receipt)


def _header(row: sqlite3.Row) -> BlockHeader:
    return BlockHeader(row["chain_id"], row["height"], row["prev_hash"], row["merkle_root"], row["state_root"],
                       row["timestamp"], row["tx_count"])


def _tx(row: sqlite3.Row) -> Transaction:
    return Transaction(row["chain_id"], row["sender"], row["to_addr"], row["nonce"], row["tx_type"],
                       json.loads(row["payload"]), row["gas_price"], row["gas_limit"], row["timestamp"],
                       row["public_key"], row["signature"])


def _receipt(row: sqlite3.Row) -> Receipt:
    events = tuple(Event(e["name"], e["contract"], e["data"]) for e in json.loads(row["events"]))
    return Receipt(row["tx_hash"], row["status"], row["gas_used"], row["gas_charged"], events, row["revert_reason"])
