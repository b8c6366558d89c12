"""Plain ledger data: accounts, transactions, blocks, receipts, contract events.

Nothing here persists or executes: `engine.store` persists, `engine.ledger` executes.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Any

from engine.chain.config import REPUTATION_BASELINE


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """The one serialisation that hashes and signatures are computed over (`json.dumps` with these options, less
    the encoder it would build on every call: this runs several times per transaction)."""
    return _CANONICAL.encode(value)


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Account:
    address: str
    balance: int = 0
    nonce: int = 0
    stake: int = 0
    reputation: int = REPUTATION_BASELINE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Transaction:
    chain_id: str
    sender: str
    to: str | None
    nonce: int
    tx_type: str
    payload: dict[str, Any]
    gas_price: int
    gas_limit: int
    timestamp: int
    public_key: str = ""
    signature: str = ""

    def signing_fields(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "sender": self.sender,
            "to": self.to,
            "nonce": self.nonce,
            "tx_type": self.tx_type,
            "payload": self.payload,
            "gas_price": self.gas_price,
            "gas_limit": self.gas_limit,
            "timestamp": self.timestamp,
        }

    def signing_digest(self) -> bytes:
        return self._digest

    @cached_property
    def _digest(self) -> bytes:
        return hashlib.sha256(canonical_json(self.signing_fields()).encode()).digest()

    def adopt_hashes(self, hashes: Hashes) -> None:
        """Keep what another process computed from these same fields (`hashes_of` a copy of this tx), as if it
        had run here: `engine.ledger.stateless` hashes txs in its worker processes."""
        self.__dict__["_digest"], self.__dict__["hash"], self.__dict__["_payload_json"] = hashes

    @cached_property
    def hash(self) -> str:
        return sha256_hex(self.signing_digest().hex() + self.public_key + self.signature)

    def payload_json(self) -> str:
        return self._payload_json

    @cached_property
    def _payload_json(self) -> str:
        return canonical_json(self.payload)

    def with_signature(self, public_key: str, signature: str) -> Transaction:
        return replace(self, public_key=public_key, signature=signature)

    def to_dict(self) -> dict[str, Any]:
        return {**self.signing_fields(), "public_key": self.public_key, "signature": self.signature, "hash": self.hash}


Hashes = tuple[bytes, str, str]  # a tx's signing digest, hash and canonical payload JSON


def hashes_of(tx: Transaction) -> Hashes | None:
    """None when the fields cannot be hashed (a field of the wrong type)."""
    try:
        return tx.signing_digest(), tx.hash, tx.payload_json()
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Event:
    """A contract event, emitted during execution and stored with the receipt."""

    name: str
    contract: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "contract": self.contract, "data": self.data}


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    status: str  # "success" | "reverted"
    gas_used: int
    gas_charged: int
    events: tuple[Event, ...] = ()
    revert_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tx_hash": self.tx_hash,
            "status": self.status,
            "gas_used": self.gas_used,
            "gas_charged": self.gas_charged,
            "events": [e.to_dict() for e in self.events],
            "revert_reason": self.revert_reason,
        }


@dataclass(frozen=True)
class BlockHeader:
    chain_id: str
    height: int
    prev_hash: str
    merkle_root: str
    state_root: str
    timestamp: int
    tx_count: int

    @property
    def hash(self) -> str:
        return sha256_hex(canonical_json(asdict(self)))


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    transactions: tuple[Transaction, ...] = field(default=())

    @property
    def height(self) -> int:
        return self.header.height

    @property
    def hash(self) -> str:
        return self.header.hash

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self.header), "hash": self.hash, "transactions": [tx.hash for tx in self.transactions]}
