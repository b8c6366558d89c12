"""A fixed, labelled incident driven through the real ledger: every SOP step, a rejected proposal, a passed one,
the solution and the settlement. Used to exercise the chain end to end without telemetry or a reasoner."""
from __future__ import annotations

from engine.agents import council
from engine.agents.council import Ballot
from engine.agents.dao import DaoExecutor
from engine.contracts import sop
from engine.runs.session import Session

ALERT = {"entity": "train-buy", "metric": "mean latency", "time": "2023-10-15 14:00:00"}
TRUTH = "food-buy"


def run_scripted_incident(session: Session, case_id: str = "scripted-food-buy") -> dict:
    run_id = session.create_run(case_id, None, "scripted", 0)
    incident_id = sop.incident_key(case_id, run_id)
    dao = DaoExecutor(session.chain, session.wallets, session.events, run_id)
    session.events.append(run_id, "run_started", {"incident": case_id, "alert": ALERT})
    council.top_up_stakes(dao)
    council.open_incident(dao, "alert_receiver", incident_id, ALERT)
    council.collect(dao, "data_detective", incident_id, {"food-buy": {"error_rate": 1.0, "latency_ms": 22220}},
                    "food-buy: error rate 100%, mean latency 22,220 ms")
    first = council.propose(dao, "probability_oracle", incident_id, "train-cancel", "latency rose", [])
    for voter in ("data_detective", "dependency_explorer", "fault_mapper", "alert_receiver"):
        council.vote(dao, first, Ballot(voter, "against", "train-cancel metrics are normal"))
    second = council.propose(dao, "fault_mapper", incident_id, TRUTH,
                             "food-buy: error rate 100%, mean latency 22,220 ms, downstream food-cancel normal", [])
    for voter in ("data_detective", "dependency_explorer", "probability_oracle", "alert_receiver"):
        council.vote(dao, second, Ballot(voter, "for", "food-buy is the only anomalous leaf"))
    steps = [{"step_id": 1, "action": "Inspect food-buy", "description": "error rate 100% since 14:00"}]
    solution = council.submit_solution(dao, "solution_engineer", incident_id, second.proposal_id, steps,
                                       "restart food-buy")
    council.settle(dao, [first, second], TRUTH)
    result = {"incident": case_id, "root_cause": second.root_cause,
              "proposals": [first.to_dict(), second.to_dict()], "solution": solution.ref()}
    session.events.append(run_id, "run_finished", {"root_cause": second.root_cause})
    session.finish_run(run_id, "finished", result)
    return {"run_id": run_id, **result}
