"""Fault injection: the spec is validated, the fault strikes where asked, and the run records who / when."""
import pytest

from engine.agents.faults import FaultSpec
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.runner import run_incident
from engine.runs.trajectory import trajectory_steps


@pytest.mark.parametrize("text, message", [
    ("oracle:1:hallucinate", "unknown agent 'oracle'"),
    ("data_detective:x:hallucinate", "STEP must be a number"),
    ("data_detective:1:lie", "MODE must be one of"),
    ("data_detective:1", "AGENT:STEP:MODE"),
])
def test_bad_fault_specs_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        FaultSpec.parse(text)


def test_hallucinating_oracle_proposes_the_decoy_first_and_is_labelled(session, incident):
    result = run_incident(session, incident, HeuristicReasoner(),
                          fault=FaultSpec.parse("probability_oracle:0:hallucinate"))
    fault = result["injected_fault"]
    assert result["proposals"][0]["root_cause"] == fault["decoy"] != "redis"
    steps = trajectory_steps(session.run_events(result["run_id"]))
    struck = steps[fault["trajectory_step"]]
    assert struck["agent"] == "probability_oracle" and fault["decoy"] in struck["content"]


def test_vote_against_flips_the_agents_votes(session, incident):
    honest = run_incident(session, incident, HeuristicReasoner())
    faulty = run_incident(session, incident, HeuristicReasoner(),
                          fault=FaultSpec.parse("dependency_explorer:0:vote_against"))

    def votes_of(result):
        return [v["option"] for p in result["proposals"] for v in p["votes"] if v["voter"] == "dependency_explorer"]

    assert votes_of(honest) == ["for"] and votes_of(faulty) == ["against"]
    step = trajectory_steps(session.run_events(faulty["run_id"]))[faulty["injected_fault"]["trajectory_step"]]
    assert step["kind"] == "tx" and step["content"].startswith("Vote against")
