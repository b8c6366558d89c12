"""Closing the loop: a fault-injected engine run -> labelled trajectory -> attribution -> on-chain slash."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_llm import build_tiny_llama

from engine.agents.council import top_up_stakes
from engine.agents.dao import DaoExecutor
from engine.agents.faults import FaultSpec
from engine.agents.roles import ROLES
from engine.attribution.view import SoftIdgView
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.attribution import (
    ATTRIBUTION_REPUTATION,
    ATTRIBUTION_SLASH,
    attribute_run,
    run_trajectory,
    slash_culprit,
)
from engine.runs.runner import run_incident
from engine.runs.session import RunResultUntrusted, Session
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


def test_injected_fault_is_attributed_and_slashed_on_chain(tmp_path, tiny_model, isolated_cache):
    from engine.clock import FixedClock

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
    blamed = trajectory.steps[attribution.when]
    assert blamed.agent == attribution.who, "who and when name the same step of this run"
    assert blamed.kind not in ("query", "observation"), "tool output and the question are never blamed"
    path = attribution.evidence_path
    assert path[0] == attribution.when and path[-1] in attribution.failure_steps
    assert path == sorted(set(path)), "the evidence runs forward in time, step by step"
    assert np.isfinite(attribution.scores[trajectory.label.when]), "the injected step is ranked like any other"

    # settling the wrong proposal may have taken the proposer's whole stake: restake as the next run would
    # (auto-staking), so that the attribution slash has something to take
    top_up_stakes(DaoExecutor(session.chain, session.wallets, session.events, run_id))
    stakes_before = _stakes(session)
    recorded = slash_culprit(session, run_id, attribution, trajectory)
    stakes_after = _stakes(session)
    assert stakes_before[attribution.who] > 0
    assert stakes_after[attribution.who] == max(0, stakes_before[attribution.who] - ATTRIBUTION_SLASH)
    assert {a: s for a, s in stakes_after.items() if a != attribution.who} == \
        {a: s for a, s in stakes_before.items() if a != attribution.who}
    assert recorded["tx"] is not None and recorded["tx"]["status"] == "success"
    assert recorded["slashed"] == {"agent": attribution.who, "amount": ATTRIBUTION_SLASH,
                                   "reputation": ATTRIBUTION_REPUTATION}

    slash = next(e for e in session.run_events(run_id)
                 if e.kind == "tx_submitted" and e.payload["tx_type"] == "token.slash"
                 and e.payload["tx"] == recorded["tx"]["tx"])
    proof = slash.payload["payload"]["evidence"]
    assert [row["step"] for row in proof["path"]] == attribution.evidence_path
    assert all({"step", "agent", "text", "score"} <= set(row) for row in proof["path"])
    assert proof["who"] == attribution.who and proof["when"] == attribution.when

    event = [e for e in session.run_events(run_id) if e.kind == "attribution"][-1]
    assert event.payload["who"] == attribution.who and event.payload["tx"]["tx"] == recorded["tx"]["tx"]
    view = SoftIdgView.from_dict(event.payload["graph"])
    assert [node.step for node in view.nodes] == list(range(len(trajectory.steps)))
    assert (view.who, view.when, view.evidence_path) == (attribution.who, attribution.when, attribution.evidence_path)
    assert all(source < target for source, target, _ in view.edges())  # influence flows forward in time
    assert session.verify().ok


def test_right_runs_are_not_labelled_or_slashed(tmp_path, tiny_model, isolated_cache):
    from engine.clock import FixedClock

    session = Session(tmp_path / "rca.db", clock=FixedClock())
    result = run_incident(session, make_incident(), HeuristicReasoner())
    assert result["root_cause"] == result["label"]["root_cause"]
    trajectory = run_trajectory(session, result["run_id"])
    assert trajectory.label is None
    attribution = attribute_run(session, result["run_id"], model_name=str(tiny_model), trajectory=trajectory)
    recorded = slash_culprit(session, result["run_id"], attribution, trajectory)
    assert recorded["tx"] is None and recorded["consensus_wrong"] is False
    assert session.verify().ok


def _stakes(session) -> dict[str, int]:
    return {role.key: session.chain.state.get_account(session.wallets.address(role.key)).stake for role in ROLES}


def test_a_slash_is_once_per_run_and_agent_on_chain(tmp_path, tiny_model, isolated_cache):
    """Attributing the same run twice slashes once (the second names the first slash tx); a hand-made second slash
    tx for the same run and agent is reverted by the token contract, leaving the stake alone."""
    from engine.agents.council import slash
    from engine.agents.dao import DaoExecutor
    from engine.clock import FixedClock

    session = Session(tmp_path / "rca.db", clock=FixedClock())
    result = run_incident(session, make_incident(), HeuristicReasoner(),
                          fault=FaultSpec.parse("probability_oracle:0:hallucinate"))
    run_id = result["run_id"]
    trajectory = run_trajectory(session, run_id)
    attribution = attribute_run(session, run_id, model_name=str(tiny_model), trajectory=trajectory)
    first = slash_culprit(session, run_id, attribution, trajectory)
    assert first["tx"]["status"] == "success"
    stakes = _stakes(session)

    again = slash_culprit(session, run_id, attribution, trajectory)
    assert again["tx"] is None and "slashed" not in again
    assert again["already_slashed"] == {"agent": attribution.who, "tx": first["tx"]["tx"]}
    assert _stakes(session) == stakes

    dao = DaoExecutor(session.chain, session.wallets, session.events, run_id)
    forced = slash(dao, attribution.who, ATTRIBUTION_SLASH, 0, "a second slash", run_id=run_id)
    assert forced.receipt.status == "reverted"
    assert f"already slashed for run {run_id} by tx {first['tx']['tx']}" in forced.receipt.revert_reason
    assert _stakes(session) == stakes
    unresolved = slash(dao, attribution.who, 1, 0, "a run nobody resolved", run_id="another-run")
    assert unresolved.receipt.status == "reverted"
    assert "run another-run has no signed resolution" in unresolved.receipt.revert_reason
    assert session.verify().ok


def test_an_edited_label_makes_the_slash_refuse_and_slashes_nobody(tmp_path, tiny_model, isolated_cache):
    """The truth a slash acts on is the one the authority signed when the run ended: a label edited in
    `runs.result` (here: made to agree with a right run's consensus, then a wrong one) is refused by name."""
    session = Session(tmp_path / "rca.db")
    result = run_incident(session, make_incident(), HeuristicReasoner())
    run_id, truth = result["run_id"], result["label"]["root_cause"]
    edited = {**result, "label": {**result["label"], "root_cause": "not-" + truth}}
    session.conn.execute("UPDATE runs SET result = ? WHERE run_id = ?", (json.dumps(edited), run_id))
    trajectory = run_trajectory(session, run_id)
    attribution = attribute_run(session, run_id, model_name=str(tiny_model), trajectory=trajectory)
    height, stakes = session.height, _stakes(session)
    with pytest.raises(RunResultUntrusted, match=f"label root cause 'not-{truth}' stored, '{truth}' signed"):
        slash_culprit(session, run_id, attribution, trajectory)
    assert (session.height, _stakes(session)) == (height, stakes)
    assert [f.what for f in session.verify().findings] == [f"run {run_id} result"]
    session.close()
    done = subprocess.run([sys.executable, "-m", "rca_tui", "attribute", "--run", run_id, "--slash", "--model",
                           str(tiny_model), "--db", str(tmp_path / "rca.db")], capture_output=True, text=True,
                          env={**os.environ, "RCA_TUI_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"label root cause 'not-{truth}' stored, '{truth}' signed; nothing acts on an edited result" in done.stderr
