"""The on-chain protocol of one incident: open, collect evidence, propose with stake, vote with stake, reach
consensus (or reject and propose the next candidate), submit the solution, settle rewards and penalties.

Agents decide *what* to say; this module turns each decision into the transaction the SOP, governance and token
contracts expect, in the order the SOP allows.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from engine.agents.dao import DaoExecutor, Mined
from engine.agents.roles import AUTHORITY, ROLES
from engine.chain.config import REPUTATION_BASELINE, TEXT_MAX_CHARS
from engine.chain.types import canonical_json
from engine.contracts import governance

PROPOSAL_STAKE = 100
VOTE_STAKE = 50
BASE_STAKE = 200
STAKE_PER_REPUTATION = 10  # auto-staking: every reputation point above the baseline adds this much stake
BALANCE_KEPT_FOR_GAS = 1_000  # auto-staking never takes an agent's balance below this
GAS_FLOOR = 3_000
PROPOSER_REWARD, PROPOSER_REPUTATION = 800, 5
SUPPORTER_REWARD, SUPPORTER_REPUTATION = 300, 1
WRONG_PROPOSER_SLASH, WRONG_PROPOSER_REPUTATION = 200, 5
WRONG_SUPPORTER_SLASH, WRONG_SUPPORTER_REPUTATION = 50, 2


@dataclass
class Ballot:
    voter: str
    option: str  # for | against | abstain
    reason: str


@dataclass
class ProposalRecord:
    proposer: str
    root_cause: str
    reason: str
    proposal_id: str
    mined: Mined
    ballots: list[tuple[Ballot, Mined]] = field(default_factory=list)
    outcome: str = "open"
    tally: dict | None = None

    def to_dict(self) -> dict:
        return {"proposal_id": self.proposal_id, "proposer": self.proposer, "root_cause": self.root_cause,
                "outcome": self.outcome, "tally": self.tally, **{"tx": self.mined.tx.hash,
                                                                 "block": self.mined.block.height},
                "votes": [{"voter": b.voter, "option": b.option, "reason": b.reason, **m.ref()}
                          for b, m in self.ballots]}


def evidence_hash(evidence: dict) -> str:
    return hashlib.sha256(canonical_json(evidence).encode()).hexdigest()


Action = tuple[str, str, dict]  # actor, tx_type, payload: one tx of a phase mined in one block


def fund_gas(dao: DaoExecutor) -> list[Mined]:
    """The treasury, which collects all gas, pays an allowance to agents whose balance fell below the floor,
    so an agent that keeps losing stake can still take part (with a falling reputation). One block."""
    actions = []
    for role in ROLES:
        balance = dao.chain.state.get_account(dao.wallets.address(role.key)).balance
        if balance < GAS_FLOOR:
            actions.append(_reward(dao, role.key, GAS_FLOOR - balance, 0, "gas allowance"))
    return dao.act_all(actions)


def top_up_stakes(dao: DaoExecutor) -> list[Mined]:
    """Each agent keeps a stake that grows with its reputation (mABC-DAO design, auto-staking). One block."""
    actions = []
    for role in ROLES:
        account = dao.chain.state.get_account(dao.wallets.address(role.key))
        target = BASE_STAKE + STAKE_PER_REPUTATION * max(0, account.reputation - REPUTATION_BASELINE)
        missing = min(target - account.stake, account.balance - BALANCE_KEPT_FOR_GAS)
        if missing > 0:
            actions.append((role.key, "token.stake", {"amount": missing}))
    return dao.act_all(actions)


def open_incident(dao: DaoExecutor, actor: str, incident_id: str, alert: dict) -> Mined:
    return dao.act(actor, "sop.open", {"incident_id": incident_id, "alert": alert})


def collect(dao: DaoExecutor, actor: str, incident_id: str, evidence: dict, summary: str) -> Mined:
    return dao.act(actor, "sop.collect", {"incident_id": incident_id, "evidence_hash": evidence_hash(evidence),
                                          "summary": summary[:TEXT_MAX_CHARS]})


def propose(dao: DaoExecutor, actor: str, incident_id: str, root_cause: str, reason: str,
            candidates: list) -> ProposalRecord:
    mined = dao.act(actor, "gov.propose", {"incident_id": incident_id, "root_cause": root_cause,
                                           "reason": reason[:TEXT_MAX_CHARS], "stake": PROPOSAL_STAKE,
                                           "candidates": candidates})
    return ProposalRecord(actor, root_cause, reason, mined.tx.hash, mined)


def vote(dao: DaoExecutor, record: ProposalRecord, ballot: Ballot) -> Mined:
    mined = dao.act(ballot.voter, "gov.vote", {"proposal_id": record.proposal_id, "option": ballot.option,
                                               "stake": VOTE_STAKE, "reason": ballot.reason[:TEXT_MAX_CHARS]})
    record.ballots.append((ballot, mined))
    stored = governance.proposal(dao.chain.state, record.proposal_id)
    record.outcome, record.tally = stored["status"], governance.tally(stored)
    return mined


def submit_solution(dao: DaoExecutor, actor: str, incident_id: str, proposal_id: str, steps: list[dict],
                    summary: str) -> Mined:
    return dao.act(actor, "sop.solution", {"incident_id": incident_id, "proposal_id": proposal_id,
                                           "repair_steps": steps, "summary": summary[:TEXT_MAX_CHARS]})


def settle(dao: DaoExecutor, proposals: list[ProposalRecord], truth: str | None) -> list[Mined]:
    """Reward proposers and supporters who were right, slash those who were wrong.

    Right means: matches the label when one is known; otherwise, the side the DAO's consensus took. The whole
    settlement is one block.
    """
    actions = []
    for record in proposals:
        correct = record.outcome == "passed" if truth is None else record.root_cause == truth
        actions.append(_settle_proposer(dao, record, correct))
        for ballot, _ in record.ballots:
            if ballot.option == "abstain" or ballot.voter == record.proposer:
                continue
            right = (ballot.option == "for") == correct
            actions.append(_settle_voter(dao, ballot.voter, right, record.proposal_id))
    return dao.act_all(actions)


def _settle_proposer(dao: DaoExecutor, record: ProposalRecord, correct: bool) -> Action:
    if correct:
        return _reward(dao, record.proposer, PROPOSER_REWARD, PROPOSER_REPUTATION,
                       f"proposal {record.proposal_id[:12]} on {record.root_cause} was right")
    return _slash(dao, record.proposer, WRONG_PROPOSER_SLASH, WRONG_PROPOSER_REPUTATION,
                  f"proposal {record.proposal_id[:12]} on {record.root_cause} was wrong")


def _settle_voter(dao: DaoExecutor, voter: str, right: bool, proposal_id: str) -> Action:
    if right:
        return _reward(dao, voter, SUPPORTER_REWARD, SUPPORTER_REPUTATION,
                       f"vote on {proposal_id[:12]} matched the outcome")
    return _slash(dao, voter, WRONG_SUPPORTER_SLASH, WRONG_SUPPORTER_REPUTATION,
                  f"vote on {proposal_id[:12]} went against the outcome")


def _reward(dao: DaoExecutor, agent: str, amount: int, reputation: int, reason: str) -> Action:
    return AUTHORITY, "token.reward", {"to": dao.wallets.address(agent), "amount": amount,
                                       "reputation": reputation, "reason": reason}


def slash(dao: DaoExecutor, agent: str, amount: int, reputation: int, reason: str,
          evidence: dict | None = None, run_id: str | None = None) -> Mined:
    """With `run_id`, the token contract allows this slash once per (run, agent) and reverts a second one."""
    return dao.act(*_slash(dao, agent, amount, reputation, reason, evidence, run_id))


def _slash(dao: DaoExecutor, agent: str, amount: int, reputation: int, reason: str,
           evidence: dict | None = None, run_id: str | None = None) -> Action:
    payload = {"target": dao.wallets.address(agent), "amount": amount, "reputation": reputation, "reason": reason}
    if run_id is not None:
        payload["run_id"] = run_id
    if evidence is not None:
        payload["evidence"] = evidence
    return AUTHORITY, "token.slash", payload
