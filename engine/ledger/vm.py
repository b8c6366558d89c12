"""Execute one transaction atomically against the world state: gas, treasury, contract call, rollback."""
from __future__ import annotations

from engine.chain.config import TREASURY, ChainConfig
from engine.chain.state import WorldState
from engine.chain.types import Account, Receipt, Transaction
from engine.contracts.base import CallContext, Revert
from engine.contracts.registry import intrinsic_gas, method_for


class OutOfGas(Exception):
    pass


class NotExecutable(ValueError):
    """The tx cannot run on this state at all (nonce out of turn, or its sender cannot pay the gas up front);
    mining drops it, verify reports it. Nothing was changed."""


def gas_required(tx: Transaction) -> int:
    method = method_for(tx.tx_type)
    return intrinsic_gas(tx.payload_json()) + (method.gas if method else 0)


def apply_tx(state: WorldState, config: ChainConfig, tx: Transaction, height: int, timestamp: int) -> Receipt:
    """Charge gas_limit × gas_price to the treasury up front, run the contract inside a savepoint, refund.

    Success pays the gas it used. A contract revert undoes every change the contract made; an honest revert is
    refunded in full, a malicious one pays the gas it used, running out of gas pays the whole limit. The nonce
    advances in every case so the same transaction can never run twice.
    """
    method = method_for(tx.tx_type)
    upfront = tx.gas_limit * tx.gas_price
    _require_executable(state.get_account(tx.sender), tx, upfront)
    _pay_upfront(state, tx, upfront)
    needed = gas_required(tx)
    ctx = CallContext(state, tx, height, timestamp, config)
    status, reason, charged = "success", None, needed
    try:
        with state.savepoint():
            if needed > tx.gas_limit:
                raise OutOfGas(f"needs {needed} gas, limit is {tx.gas_limit}")
            method.handler(ctx, tx.payload)
    except Revert as revert:
        status, reason, charged = "reverted", revert.reason, needed if revert.malicious else 0
    except OutOfGas as exc:
        status, reason, charged = "reverted", f"out of gas: {exc}", tx.gas_limit
    _refund(state, tx, upfront - charged * tx.gas_price)
    events = tuple(ctx.events) if status == "success" else ()
    return Receipt(tx.hash, status, needed, charged, events, reason)


def _require_executable(sender: Account, tx: Transaction, upfront: int) -> None:
    if tx.nonce != sender.nonce:
        raise NotExecutable(f"nonce {tx.nonce} out of turn: sender {tx.sender} is at nonce {sender.nonce}")
    if sender.balance < upfront:
        raise NotExecutable(f"sender {tx.sender} holds {sender.balance}, below gas_limit × gas_price = {upfront}")


def _pay_upfront(state: WorldState, tx: Transaction, upfront: int) -> None:
    state.adjust(tx.sender, balance=-upfront, nonce=1)
    state.adjust(TREASURY, balance=upfront)


def _refund(state: WorldState, tx: Transaction, amount: int) -> None:
    if amount:
        state.adjust(TREASURY, balance=-amount)
        state.adjust(tx.sender, balance=amount)
