"""Closing the loop: a fault-injected engine run -> labelled trajectory -> attribution -> on-chain slash."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny_llm import build_tiny_llama

from engine.agents.faults import FaultSpec
from engine.runs.attribution import attribute_run, run_trajectory, slash_culprit
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.runner import run_incident
from engine.runs.session import Session
from tests.unit.agents.conftest import make_incident

_CORPUS = [
    "probability_oracle (thought): Fuse the evidence of every modality into a probability per entity.",
    "data_detective (action): Action: baseline_compare({\"entity\": \"redis\"})",
    "Observation from rank_candidates: {\"candidates\": [{\"entity\": \"cart\", \"score\": 0.12}]}",
    "Vote for: redis leads metrics. Propose cart: error rate 100%, latency x20 over baseline",
]


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    folder = tmp_path / "tiny-llama"
    return build_tiny_llama(folder, _CORPUS)


def test_injected_fault_is_attributed_and_slashed_on_chain(tmp_path, monkeypatch, tiny_model):
    from engine.clock import FixedClock

    monkeypatch.setenv("RCA_TUI_CACHE", str(tmp_path / "cache"))
    session = Session(tmp_path / "rca.db", clock=FixedClock())
    fault = FaultSpec.parse("probability_oracle:0:hallucinate")
    result = run_incident(session, make_incident(), HeuristicReasoner(), fault=fault)
    assert result["root_cause"] != result["label"]["root_cause"], "the injected fault should derail the consensus"
    run_id = result["run_id"]

    trajectory = run_trajectory(session, run_id)
    injected = result["injected_fault"]
    assert trajectory.label is not None
    assert trajectory.label.who == "probability_oracle" == injected["agent"]
    assert trajectory.label.when == injected["trajectory_step"]
    assert trajectory.steps[trajectory.label.when].agent == "probability_oracle"
    assert trajectory.steps[trajectory.label.when].kind == "action"
    assert injected["decoy"] in trajectory.steps[trajectory.label.when].content

    attribution = attribute_run(session, run_id, model_name=str(tiny_model), trajectory=trajectory)
    assert attribution.who in trajectory.agents and 0 <= attribution.when < len(trajectory.steps)

    address = session.wallets.address(attribution.who)
    stake_before = session.chain.state.get_account(address).stake
    recorded = slash_culprit(session, run_id, attribution, trajectory)
    assert session.chain.state.get_account(address).stake < stake_before
    assert recorded["tx"] is not None and recorded["tx"]["status"] == "success"

    slash = next(e for e in session.run_events(run_id)
                 if e.kind == "tx_submitted" and e.payload["tx_type"] == "token.slash"
                 and e.payload["tx"] == recorded["tx"]["tx"])
    proof = slash.payload["payload"]["evidence"]
    assert [row["step"] for row in proof["path"]] == attribution.evidence_path
    assert all({"step", "agent", "text", "score"} <= set(row) for row in proof["path"])
    assert proof["who"] == attribution.who and proof["when"] == attribution.when

    event = [e for e in session.run_events(run_id) if e.kind == "attribution"][-1]
    assert event.payload["who"] == attribution.who and event.payload["tx"]["tx"] == recorded["tx"]["tx"]
    graph = event.payload["graph"]
    assert [node["step"] for node in graph["nodes"]] == list(range(len(trajectory.steps)))
    assert all(edge["from"] < edge["to"] for edge in graph["edges"])  # influence flows forward in time
    assert session.verify().ok


def test_right_runs_are_not_labelled_or_slashed(tmp_path, monkeypatch, tiny_model):
    from engine.clock import FixedClock

    monkeypatch.setenv("RCA_TUI_CACHE", str(tmp_path / "cache"))
    session = Session(tmp_path / "rca.db", clock=FixedClock())
    result = run_incident(session, make_incident(), HeuristicReasoner())
    assert result["root_cause"] == result["label"]["root_cause"]
    trajectory = run_trajectory(session, result["run_id"])
    assert trajectory.label is None
    attribution = attribute_run(session, result["run_id"], model_name=str(tiny_model), trajectory=trajectory)
    recorded = slash_culprit(session, result["run_id"], attribution, trajectory)
    assert recorded["tx"] is None and recorded["consensus_wrong"] is False
    assert session.verify().ok
