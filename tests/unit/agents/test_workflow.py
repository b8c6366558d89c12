"""The seven agents end to end on a real ledger, with the offline reasoner and with a replayed script."""
import pytest

from engine.agents.workflow import MAX_STEPS, RunFailed, Workflow
from engine.reasoners.base import ReasonerError, StepDecision
from engine.reasoners.heuristic import HeuristicReasoner
from engine.reasoners.scripted import ScriptedReasoner


def test_agents_find_the_root_cause_and_every_decision_is_on_chain(session, incident):
    result = Workflow(session, HeuristicReasoner()).run(incident)
    assert result["root_cause"] == "redis" and result["status"] == "finished"
    assert result["propagation_path"] == ["frontend", "cart", "redis"]
    assert "redis" in result["reason"] and any(ch.isdigit() for ch in result["reason"])
    assert [s["step_id"] for s in result["repair_steps"]] == list(range(1, len(result["repair_steps"]) + 1))
    assert session.sop_status(f"tiny-1#{result['run_id']}")["state"] == "Solution"
    assert session.verify().ok
    kinds = [e.kind for e in session.run_events(result["run_id"])]
    for kind in ("agent_thought", "agent_action", "observation", "tx_submitted", "block_mined", "vote_cast",
                 "consensus", "solution", "reward"):
        assert kind in kinds
    seqs = [e.seq for e in session.run_events(result["run_id"])]
    assert seqs == list(range(1, len(seqs) + 1))


def test_correct_agents_gain_reputation(session, incident):
    before = {row["agent"]: row["reputation"] for row in session.economy()}
    Workflow(session, HeuristicReasoner()).run(incident)
    after = {row["agent"]: row["reputation"] for row in session.economy()}
    assert after["probability_oracle"] > before["probability_oracle"]


def test_a_recorded_run_replays_to_the_same_decisions(session, incident):
    first = Workflow(session, HeuristicReasoner()).run(incident)
    script = ScriptedReasoner.from_events(session.run_events(first["run_id"]))
    second = Workflow(session, script).run(incident)
    assert second["root_cause"] == first["root_cause"]
    assert second["repair_steps"] == first["repair_steps"]
    assert decisions(second) == decisions(first) and decisions(first)


def decisions(result: dict) -> list:
    """Each proposal's root cause and outcome with every ballot (voter, option, reason): what the agents decided,
    without the tx hashes and blocks that record it."""
    return [(p["proposer"], p["root_cause"], p["outcome"],
             [(v["voter"], v["option"], v["reason"]) for v in p["votes"]]) for p in result["proposals"]]


def test_wrong_consensus_is_rejected_then_next_candidate_proposed(session, incident):
    """Voters who see that the first candidate is normal vote it down; the SOP returns to Data_Collected."""

    class Contrarian(HeuristicReasoner):
        def _plan_probability_oracle(self, request, seen):
            decision = super()._plan_probability_oracle(request, seen)
            if decision.answer:
                candidates = decision.answer["candidates"]
                decision.answer["candidates"] = sorted(candidates, key=lambda c: c["entity"] != "frontend")
            return decision

    result = Workflow(session, Contrarian()).run(incident)
    outcomes = [(p["root_cause"], p["outcome"]) for p in result["proposals"]]
    assert outcomes[0] == ("frontend", "rejected")
    assert result["root_cause"] == "redis"
    history = session.sop_status(f"tiny-1#{result['run_id']}")["history"]
    assert ("Root_Cause_Proposed", "Data_Collected") in [(h["from"], h["to"]) for h in history]


def test_reasoner_failure_stops_cleanly_with_a_consistent_chain(session, incident):
    class Broken(HeuristicReasoner):
        def _plan_fault_mapper(self, request, seen):
            raise ReasonerError("endpoint returned garbage")

    with pytest.raises(RunFailed, match="garbage"):
        Workflow(session, Broken()).run(incident)
    run = session.runs()[0]
    assert run["status"] == "failed" and "garbage" in run["result"]["error"]
    assert session.verify().ok


def test_step_cap(session, incident):
    class Looping(HeuristicReasoner):
        def _plan_data_detective(self, request, seen):
            from engine.reasoners.base import StepDecision

            return StepDecision("again", tool="anomaly_overview", args={})

    with pytest.raises(RunFailed, match=f"within {MAX_STEPS} steps"):
        Workflow(session, Looping()).run(incident)


def test_settlement_is_gas_free_so_long_evaluations_never_starve_the_executor(session, incident):
    before = next(r for r in session.economy() if r["agent"] == "dao_executor")["balance"]
    for _ in range(3):
        Workflow(session, HeuristicReasoner()).run(incident)
    assert next(r for r in session.economy() if r["agent"] == "dao_executor")["balance"] == before


class _Wanderer:
    """Each agent's first step is a call the heuristic plan would not make first (the last of its tools, with
    upstream / the alerted entity as arguments); every later reply fails, so the heuristic takes over."""

    name = "wanderer"

    def next_step(self, request):
        if request.step or not request.tools:
            raise ReasonerError("off the schema")
        tool = request.tools[-1]
        values = {"entity": request.alert["entity"], "root": request.alert["entity"], "direction": "upstream",
                  "k": 3, "top": 3}
        return StepDecision("look elsewhere first", tool=tool.name,
                            args={name: values.get(name, "x") for name in tool.args})

    def vote(self, request):
        raise ReasonerError("off the schema")


def test_the_heuristic_takes_over_mid_investigation_after_another_reasoners_steps(session, incident):
    result = Workflow(session, _Wanderer(), fallback=HeuristicReasoner()).run(incident)
    assert result["status"] == "finished" and result["root_cause"] == "redis"
    foreign = [e for e in session.run_events(result["run_id"]) if e.kind == "agent_thought"
               and e.payload["thought"] == "look elsewhere first"]
    assert len(foreign) >= 4  # most agents took one step of their own before the fallback
