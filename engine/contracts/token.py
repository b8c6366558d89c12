"""Token contract: transfer, stake, unstake, reward from the treasury, penalty and slash into it.

Every method moves value between accounts and the treasury; none creates or destroys it, so total supply is
conserved by every transaction.
"""
from __future__ import annotations

from dataclasses import replace

from engine.chain.config import TREASURY
from engine.chain.state import WorldState
from engine.contracts import sop
from engine.contracts.base import CallContext, Revert

NAME = "token"


def locked_stake(state: WorldState, address: str) -> int:
    """Stake held by open proposals and votes (the governance contract keeps the books)."""
    return state.storage_get("governance", f"locked:{address}", 0)


def slashed_key(run_id: str, address: str) -> str:
    """Token storage key holding the hash of the one slash of `address` for run `run_id`."""
    return f"slashed:{run_id}:{address}"


def transfer(ctx: CallContext, payload: dict) -> None:
    amount, to = payload["amount"], payload["to"]
    _move_balance(ctx, ctx.sender, to, amount)
    ctx.emit(NAME, "Transfer", sender=ctx.sender, to=to, amount=amount)


def stake(ctx: CallContext, payload: dict) -> None:
    amount = payload["amount"]
    account = ctx.account(ctx.sender)
    if account.balance < amount:
        raise Revert(f"stake {amount} exceeds balance {account.balance}")
    ctx.state.put_account(replace(account, balance=account.balance - amount, stake=account.stake + amount))
    ctx.emit(NAME, "Staked", account=ctx.sender, amount=amount, stake=account.stake + amount)


def unstake(ctx: CallContext, payload: dict) -> None:
    amount = payload["amount"]
    account = ctx.account(ctx.sender)
    free = account.stake - locked_stake(ctx.state, ctx.sender)
    if amount > free:
        raise Revert(f"unstake {amount} exceeds free stake {free} (the rest is locked by open votes or proposals)")
    ctx.state.put_account(replace(account, balance=account.balance + amount, stake=account.stake - amount))
    ctx.emit(NAME, "Unstaked", account=ctx.sender, amount=amount, stake=account.stake - amount)


def reward(ctx: CallContext, payload: dict) -> None:
    ctx.require_authority()
    to, amount, reputation = payload["to"], payload["amount"], payload.get("reputation", 0)
    _move_balance(ctx, TREASURY, to, amount)
    _change_reputation(ctx, to, reputation)
    ctx.emit(NAME, "Reward", to=to, amount=amount, reputation=reputation, reason=payload["reason"])


def penalty(ctx: CallContext, payload: dict) -> None:
    """Take from the target's balance into the treasury."""
    ctx.require_authority()
    target, amount = payload["target"], payload["amount"]
    _move_balance(ctx, target, TREASURY, min(amount, ctx.account(target).balance))
    _change_reputation(ctx, target, -payload.get("reputation", 0))
    ctx.emit(NAME, "Penalty", **_penalty_event(payload))


def slash(ctx: CallContext, payload: dict) -> None:
    """Take from the target's stake into the treasury (stake locked by open votes is slashable).

    A slash naming a `run_id` (an attribution slash) needs the run resolved as wrong by the authority's signed
    `incident.resolve` (root cause other than the truth), and is once per (run, target): the first slash's tx
    hash is kept under `slashed:<run>:<target>` and a second one reverts naming it."""
    ctx.require_authority()
    target, amount = payload["target"], payload["amount"]
    if payload.get("run_id") is not None:
        _require_resolved_wrong(ctx, payload["run_id"])
        key = slashed_key(payload["run_id"], target)
        first = ctx.state.storage_get(NAME, key)
        if first is not None:
            raise Revert(f"{target} was already slashed for run {payload['run_id']} by tx {first}")
        ctx.state.storage_set(NAME, key, ctx.tx.hash)
    account = ctx.account(target)
    taken = min(amount, account.stake)
    ctx.state.put_account(replace(account, stake=account.stake - taken))
    _shrink_lock(ctx, target, account.stake - taken)
    _credit(ctx, TREASURY, taken)
    _change_reputation(ctx, target, -payload.get("reputation", 0))
    ctx.emit(NAME, "Slashed", **{**_penalty_event(payload), "amount": taken})


def _require_resolved_wrong(ctx: CallContext, run_id: str) -> None:
    resolved = sop.resolution(ctx.state, run_id)
    if resolved is None or not resolved.get("truth"):
        raise Revert(f"run {run_id} has no signed resolution with a ground truth; nothing to slash it for")
    if resolved.get("root_cause") == resolved["truth"]:
        raise Revert(f"run {run_id} was resolved right ({resolved['truth']}, tx {resolved['tx']}); nothing to slash")


def _shrink_lock(ctx: CallContext, address: str, stake_left: int) -> None:
    """A slash may take locked stake; the lock cannot outgrow what is left, or free stake would go negative."""
    if locked_stake(ctx.state, address) > stake_left:
        ctx.state.storage_set("governance", f"locked:{address}", stake_left)


def _penalty_event(payload: dict) -> dict:
    return {
        "target": payload["target"],
        "amount": payload["amount"],
        "reputation": -payload.get("reputation", 0),
        "reason": payload["reason"],
        "evidence": payload.get("evidence"),
    }


def _move_balance(ctx: CallContext, source: str, target: str, amount: int) -> None:
    balance = ctx.account(source).balance
    if balance < amount:
        raise Revert(f"balance {balance} of {source} is below {amount}")
    ctx.state.adjust(source, balance=-amount)
    _credit(ctx, target, amount)


def _credit(ctx: CallContext, address: str, amount: int) -> None:
    ctx.state.adjust(address, balance=amount)


def _change_reputation(ctx: CallContext, address: str, delta: int) -> None:
    if delta:
        account = ctx.account(address)
        ctx.state.put_account(replace(account, reputation=max(0, account.reputation + delta)))
