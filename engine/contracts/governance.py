"""Governance contract: proposals with stake, weighted votes, two thresholds, deadline in blocks.

weight = 1 + max(0, (reputation − baseline 50) / 10) + stake / 1000   (mABC-DAO design)
A proposal passes when support ≥ 0.5 of the weight cast AND participation ≥ 0.5 of the eligible weight
(mABC paper); it fails when against reaches the same; otherwise it stays open until its deadline, after which
anyone may finalize it as expired (rejected). The outcome calls back into the SOP contract.
"""
from __future__ import annotations

from engine.chain.config import REPUTATION_BASELINE
from engine.chain.types import Account
from engine.contracts import sop
from engine.contracts.base import CallContext, Revert
from engine.contracts.token import locked_stake

NAME = "governance"
SUPPORT_THRESHOLD = 0.5
PARTICIPATION_THRESHOLD = 0.5
MIN_VOTE_STAKE = 10
OPTIONS = ("for", "against", "abstain")
REPUTATION_PER_WEIGHT = 10
STAKE_PER_WEIGHT = 1000


def vote_weight(account: Account) -> float:
    above_baseline = max(0.0, (account.reputation - REPUTATION_BASELINE) / REPUTATION_PER_WEIGHT)
    return round(1 + above_baseline + account.stake / STAKE_PER_WEIGHT, 6)


def proposal(state, proposal_id: str) -> dict | None:
    return state.storage_get(NAME, f"proposal:{proposal_id}")


def propose(ctx: CallContext, payload: dict) -> None:
    incident_id, stake = payload["incident_id"], payload["stake"]
    sop.require_state(ctx, incident_id, sop.SOPState.DATA_COLLECTED)
    _lock(ctx, ctx.sender, stake)
    proposal_id = ctx.tx.hash
    record = {
        "incident_id": incident_id,
        "proposer": ctx.sender,
        "root_cause": payload["root_cause"],
        "reason": payload.get("reason", ""),
        "stake": stake,
        "created_height": ctx.height,
        "deadline_height": ctx.height + ctx.config.voting_period_blocks,
        "eligible": {m: vote_weight(ctx.account(m)) for m in ctx.config.members},
        "votes": {},
        "status": "open",
    }
    _save(ctx, proposal_id, record)
    sop.mark_proposed(ctx, incident_id, proposal_id)
    ctx.emit(NAME, "RootCauseProposed", proposal_id=proposal_id, incident_id=incident_id,
             proposer=ctx.sender, root_cause=payload["root_cause"], stake=stake)


def vote(ctx: CallContext, payload: dict) -> None:
    proposal_id, option, stake = payload["proposal_id"], payload["option"], payload["stake"]
    record = _open_proposal(ctx, proposal_id)
    if ctx.sender not in record["eligible"]:
        raise Revert(f"{ctx.sender} is not a voting member of this proposal")
    if ctx.sender in record["votes"]:
        raise Revert(f"{ctx.sender} already voted on {proposal_id}", malicious=True)
    if ctx.height > record["deadline_height"]:
        raise Revert(f"voting on {proposal_id} closed at block {record['deadline_height']}")
    if stake < MIN_VOTE_STAKE:
        raise Revert(f"a vote must lock at least {MIN_VOTE_STAKE} stake, got {stake}")
    _lock(ctx, ctx.sender, stake)
    weight = vote_weight(ctx.account(ctx.sender))
    record["votes"][ctx.sender] = {"option": option, "weight": weight, "stake": stake,
                                   "reason": payload.get("reason", "")}
    ctx.emit(NAME, "VoteCast", proposal_id=proposal_id, voter=ctx.sender, option=option, weight=weight)
    outcome = tally(record)["outcome"]
    if outcome == "open":
        _save(ctx, proposal_id, record)
    else:
        close(ctx, proposal_id, record, outcome)


def finalize(ctx: CallContext, payload: dict) -> None:
    proposal_id = payload["proposal_id"]
    record = _open_proposal(ctx, proposal_id)
    if ctx.height <= record["deadline_height"]:
        raise Revert(f"proposal {proposal_id} is open until block {record['deadline_height']}")
    close(ctx, proposal_id, record, "expired")


def tally(record: dict) -> dict:
    """Weights for / against / abstain, participation, support and the outcome the thresholds give."""
    totals = {option: 0.0 for option in OPTIONS}
    for ballot in record["votes"].values():
        totals[ballot["option"]] += ballot["weight"]
    cast = sum(totals.values())
    eligible = sum(record["eligible"].values())
    participation = cast / eligible if eligible else 0.0
    support = totals["for"] / cast if cast else 0.0
    opposition = totals["against"] / cast if cast else 0.0
    outcome = "open"
    if participation >= PARTICIPATION_THRESHOLD:
        if support >= SUPPORT_THRESHOLD:
            outcome = "passed"
        elif opposition >= SUPPORT_THRESHOLD:
            outcome = "rejected"
    return {**{k: round(v, 6) for k, v in totals.items()}, "cast": round(cast, 6), "eligible": round(eligible, 6),
            "participation": round(participation, 6), "support": round(support, 6), "outcome": outcome}


def _open_proposal(ctx: CallContext, proposal_id: str) -> dict:
    record = proposal(ctx.state, proposal_id)
    if record is None:
        raise Revert(f"no proposal {proposal_id}")
    if record["status"] != "open":
        raise Revert(f"proposal {proposal_id} is already {record['status']}")
    return record


def close(ctx: CallContext, proposal_id: str, record: dict, outcome: str) -> None:
    record["status"] = outcome
    _unlock(ctx, record["proposer"], record["stake"])
    for voter, ballot in record["votes"].items():
        _unlock(ctx, voter, ballot["stake"])
    _save(ctx, proposal_id, record)
    ctx.emit(NAME, "ProposalClosed", proposal_id=proposal_id, outcome=outcome, tally=tally(record))
    sop.conclude_vote(ctx, record["incident_id"], proposal_id, passed=outcome == "passed")


def _lock(ctx: CallContext, address: str, amount: int) -> None:
    account = ctx.account(address)
    free = account.stake - locked_stake(ctx.state, address)
    if amount > free:
        raise Revert(f"locking {amount} needs free stake, {address} has {free}")
    ctx.state.storage_set(NAME, f"locked:{address}", locked_stake(ctx.state, address) + amount)


def _unlock(ctx: CallContext, address: str, amount: int) -> None:
    remaining = max(0, locked_stake(ctx.state, address) - amount)
    ctx.state.storage_set(NAME, f"locked:{address}", remaining)


def _save(ctx: CallContext, proposal_id: str, record: dict) -> None:
    ctx.state.storage_set(NAME, f"proposal:{proposal_id}", record)
