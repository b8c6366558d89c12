"""Admission checks: a transaction enters the pool only if it could execute; the checks never touch state."""
from __future__ import annotations

from enum import Enum

from engine.chain.config import MIN_GAS_PRICE, ChainConfig
from engine.chain.state import WorldState
from engine.chain.types import Transaction
from engine.chain.wellformed import field_problem
from engine.contracts.registry import intrinsic_gas, method_for, validate_payload
from engine.contracts.schema import MalformedPayload
from engine.ledger.signatures import signed_by_sender


class RejectCode(str, Enum):
    BAD_SIGNATURE = "bad_signature"
    WRONG_CHAIN = "wrong_chain_id"
    BAD_NONCE = "bad_nonce"
    INTRINSIC_GAS = "gas_below_intrinsic"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    UNKNOWN_TYPE = "unknown_tx_type"
    MALFORMED_PAYLOAD = "malformed_payload"
    MALFORMED_FIELD = "malformed_field"
    GAS_PRICE_TOO_LOW = "gas_price_below_minimum"
    DUPLICATE = "duplicate"


class TxRejected(ValueError):
    def __init__(self, tx: Transaction, code: RejectCode, detail: str):
        super().__init__(f"tx {tx.hash[:16]} rejected ({code.value}): {detail}")
        self.tx, self.code, self.detail = tx, code, detail


class Mempool:
    def __init__(self, config: ChainConfig):
        self.config = config
        self.pending: list[Transaction] = []
        self._hashes: set[str] = set()
        self._pending_nonce: dict[str, int] = {}
        self._reserved: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.pending)

    def admit(self, tx: Transaction, state: WorldState, stateless_ok: bool = False) -> None:
        """`stateless_ok`: the caller already found the signature and the shape (field types, tx type, payload)
        good (`engine.ledger.stateless`), so they are not checked again."""
        self._check(tx, state, stateless_ok)
        self.pending.append(tx)
        self._hashes.add(tx.hash)
        self._pending_nonce[tx.sender] = tx.nonce + 1
        self._reserved[tx.sender] = self._reserved.get(tx.sender, 0) + tx.gas_limit * tx.gas_price

    def next_nonce(self, address: str, state: WorldState) -> int:
        pending = self._pending_nonce.get(address)
        return state.get_account(address).nonce if pending is None else pending

    def take(self, count: int | None = None) -> list[Transaction]:
        return self.pending[: count if count is not None else len(self.pending)]

    def remove(self, mined: list[Transaction]) -> None:
        mined_hashes = {tx.hash for tx in mined}
        self.pending = [tx for tx in self.pending if tx.hash not in mined_hashes]
        self._hashes -= mined_hashes
        self._reserved.clear()
        self._pending_nonce.clear()
        for tx in self.pending:
            self._pending_nonce[tx.sender] = tx.nonce + 1
            self._reserved[tx.sender] = self._reserved.get(tx.sender, 0) + tx.gas_limit * tx.gas_price

    def _check(self, tx: Transaction, state: WorldState, stateless_ok: bool) -> None:
        def reject(code: RejectCode, detail: str) -> None:
            raise TxRejected(tx, code, detail)

        problem = None if stateless_ok else field_problem(tx)
        if problem:
            reject(RejectCode.MALFORMED_FIELD, problem)
        if tx.hash in self._hashes:
            reject(RejectCode.DUPLICATE, "already pending")
        if tx.chain_id != self.config.chain_id:
            reject(RejectCode.WRONG_CHAIN, f"chain id {tx.chain_id!r}, this chain is {self.config.chain_id!r}")
        method = method_for(tx.tx_type)
        if method is None:
            reject(RejectCode.UNKNOWN_TYPE, f"no contract handles tx type {tx.tx_type!r}")
        if not stateless_ok:
            try:
                validate_payload(tx.tx_type, tx.payload)
            except MalformedPayload as exc:
                reject(RejectCode.MALFORMED_PAYLOAD, str(exc))
            if not signed_by_sender(tx):
                reject(RejectCode.BAD_SIGNATURE, f"signature does not verify for sender {tx.sender}")
        expected = self.next_nonce(tx.sender, state)
        if tx.nonce != expected:
            reject(RejectCode.BAD_NONCE, f"nonce {tx.nonce}, expected {expected}")
        intrinsic = intrinsic_gas(tx.payload_json())
        if tx.gas_limit < intrinsic:
            reject(RejectCode.INTRINSIC_GAS, f"gas limit {tx.gas_limit} below intrinsic cost {intrinsic}")
        if tx.gas_price < MIN_GAS_PRICE and not (method.settlement and tx.sender == self.config.authority):
            reject(RejectCode.GAS_PRICE_TOO_LOW, f"gas price {tx.gas_price} below the minimum {MIN_GAS_PRICE} "
                                                 "(only the authority's settlement txs are gas-free)")
        available = state.get_account(tx.sender).balance - self._reserved.get(tx.sender, 0)
        if available < tx.gas_limit * tx.gas_price:
            reject(RejectCode.INSUFFICIENT_FUNDS,
                   f"balance {available} below gas_limit × gas_price = {tx.gas_limit * tx.gas_price}")
