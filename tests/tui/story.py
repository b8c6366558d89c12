"""A small, fully deterministic incident for the console's tests and benchmark: agents think, act and observe,
the ledger records a reverted tx, a rejected proposal and a passed one, the solution and the settlement.

Deterministic: fixed clock, keys from seeds, run ids from the database; the same bytes on every machine."""
from __future__ import annotations

from pathlib import Path

from engine.agents import council
from engine.agents.council import Ballot
from engine.agents.dao import DaoExecutor
from engine.agents.roles import AUTHORITY, ROLES
from engine.chain.crypto import PrivateKey
from engine.clock import FixedClock
from engine.ledger.anchor import SEALER_KEY
from engine.runs.session import Session

CASE = "ts-food-1"
CANDIDATES = [
    {"entity": "ts-food-service", "score": 0.91, "reason": "error rate 100%, latency ×40 since 14:00"},
    {"entity": "ts-travel-service", "score": 0.55, "reason": "latency up 3×, follows ts-food-service"},
    {"entity": "ts-order-service", "score": 0.18, "reason": "normal"},
]
FAULT_WEB = {
    "ts-food-service": ["ts-food-service", "ts-travel-service", "ts-preserve-service"],
    "ts-travel-service": ["ts-travel-service", "ts-preserve-service"],
    "ts-order-service": ["ts-order-service", "ts-preserve-service"],
}


def seed_keys(db_path: Path) -> None:
    """Write seeded keys where the session's keystore looks, so addresses and signatures never change."""
    keys = Path(str(db_path) + ".keys")
    for name in [role.key for role in ROLES] + [AUTHORITY, SEALER_KEY]:
        if not (keys / f"{name}.pem").exists():
            PrivateKey.from_seed(name).save(keys / f"{name}.pem")


def open_session(db_path: Path) -> Session:
    seed_keys(db_path)
    return Session(db_path, FixedClock(step_ms=250))


def investigate(session: Session, run_id: str, agent: str, tool: str, result: dict, answer: dict) -> None:
    emit = session.events.append
    emit(run_id, "agent_thought", {"agent": agent, "step": 0, "thought": f"call {tool} to see the evidence"})
    emit(run_id, "agent_action", {"agent": agent, "step": 0, "action": tool, "args": {"k": 3}})
    emit(run_id, "observation", {"agent": agent, "step": 0, "tool": tool, "result": result})
    emit(run_id, "agent_thought", {"agent": agent, "step": 1, "thought": "enough evidence"})
    emit(run_id, "agent_action", {"agent": agent, "step": 1, "action": "answer", "answer": answer})


def run_story(session: Session) -> str:
    run_id = session.create_run(CASE, None, "scripted", 0)
    incident = f"{CASE}#{run_id}"
    dao = DaoExecutor(session.chain, session.wallets, session.events, run_id)
    session.events.append(run_id, "run_started", {"incident": CASE, "alert": {"entity": "ts-preserve-service"}})
    council.top_up_stakes(dao)
    investigate(session, run_id, "alert_receiver", "alerts", {"alerts": 1}, {"entity": "ts-preserve-service"})
    council.open_incident(dao, "alert_receiver", incident, {"entity": "ts-preserve-service"})
    investigate(session, run_id, "data_detective", "metrics", {"ts-food-service": {"error_rate": 1.0}},
                {"summary": "ts-food-service fails every call"})
    council.collect(dao, "data_detective", incident, {"food": 1}, "ts-food-service fails every call")
    investigate(session, run_id, "probability_oracle", "rank_candidates", {"candidates": CANDIDATES},
                {"candidates": CANDIDATES})
    investigate(session, run_id, "fault_mapper", "propagation_path", {"path": FAULT_WEB["ts-food-service"]},
                {"fault_web": FAULT_WEB})
    council.submit_solution(dao, "solution_engineer", incident, "none", [], "too early: reverts")
    first = council.propose(dao, "probability_oracle", incident, "ts-travel-service", "latency up", [])
    for voter in ("data_detective", "dependency_explorer", "fault_mapper", "alert_receiver"):
        council.vote(dao, first, Ballot(voter, "against", "travel only follows food"))
    second = council.propose(dao, "probability_oracle", incident, "ts-food-service", "error rate 100%", [])
    for voter, option in (("data_detective", "for"), ("dependency_explorer", "for"), ("alert_receiver", "abstain"),
                          ("fault_mapper", "for")):
        council.vote(dao, second, Ballot(voter, option, "food-service is the only failing leaf"))
    council.submit_solution(dao, "solution_engineer", incident, second.proposal_id,
                            [{"step_id": 1, "action": "restart ts-food-service"}], "restart ts-food-service")
    council.settle(dao, [first, second], "ts-food-service")
    session.events.append(run_id, "run_finished", {"root_cause": "ts-food-service", "status": "finished"})
    session.finish_run(run_id, "finished", {"run_id": run_id, "root_cause": "ts-food-service"})
    return run_id


def story_db(db_path: Path) -> str:
    """A database holding exactly one story run; returns its run id."""
    session = open_session(db_path)
    try:
        return run_story(session)
    finally:
        session.close()
