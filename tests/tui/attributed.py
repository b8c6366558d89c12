"""Runs for the Soft-IDG view, made for real: the seven agents on a small incident with an injected fault (the
Probability Oracle misreports at its first step), so the consensus goes wrong; then, for the attributed one, the
tracer with a tiny random Llama (tests/tiny_llm.py) and the DAO's slash, which stores the `attribution` event the
console draws."""
from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

from engine.config import settings
from tests.tui.story import open_session

FAULT = "probability_oracle:0:misreport"
CORPUS = [
    "probability_oracle (thought): Fuse the evidence of every modality into a probability per entity.",
    "data_detective (action): Action: baseline_compare({\"entity\": \"redis\"})",
    "Observation from rank_candidates: {\"candidates\": [{\"entity\": \"cart\", \"score\": 0.12}]}",
    "Vote for: redis leads metrics. Propose cart: error rate 100%, latency x20 over baseline",
]


def tiny_model(folder: Path) -> Path:
    from tests.tiny_llm import build_tiny_llama

    return build_tiny_llama(folder, CORPUS)


def faulty_run_db(db_path: Path) -> str:
    """A database holding one run whose consensus an injected fault derailed; returns its run id."""
    from engine.agents.faults import FaultSpec
    from engine.reasoners.heuristic import HeuristicReasoner
    from engine.runs.runner import run_incident
    from tests.unit.agents.conftest import make_incident

    session = open_session(db_path)
    try:
        result = run_incident(session, make_incident(), HeuristicReasoner(), fault=FaultSpec.parse(FAULT))
    finally:
        session.close()
    assert result["root_cause"] != result["label"]["root_cause"], "the injected fault should derail the consensus"
    return result["run_id"]


def attribute_and_slash(db_path: Path, run_id: str, model: Path, cache: Path) -> dict:
    """What `rca-tui attribute --run RUN --slash` does, with the tiny model; returns the attribution payload."""
    from engine.runs.attribution import attribute_run, run_trajectory, slash_culprit

    with mock.patch.dict(os.environ, {"RCA_TUI_CACHE": str(cache)}):
        settings.cache_clear()  # engine.config reads the environment once
        session = open_session(db_path)
        try:
            trajectory = run_trajectory(session, run_id)
            attribution = attribute_run(session, run_id, model_name=str(model), trajectory=trajectory)
            return slash_culprit(session, run_id, attribution, trajectory)
        finally:
            session.close()
            settings.cache_clear()
