"""The seven agents as a picklable ranking function for batch evaluations, serial or scaled out.

The process that creates it records its runs in the given database; any other process (a local worker, a
Dask worker) in its own file beside it, `<stem>-<pid>.db`, so no two processes share a SQLite writer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.runner import run_incident
from engine.runs.session import Session
from engine.telemetry.model import Incident


@dataclass(frozen=True)
class AgentRanking:
    db: str
    dataset: str
    tamo_model: str | None = "default"
    stacker: str | None = "default"
    owner_pid: int = field(default_factory=os.getpid)

    def __call__(self, incident: Incident) -> list[str]:
        result = run_incident(_session(self.database()), incident, HeuristicReasoner(), dataset=self.dataset,
                              tamo_model=self.tamo_model, stacker=self.stacker)
        return result["ranking"]

    def provenance(self, cases: list[tuple[str, str]]) -> dict:
        """For (case id, system) pairs: the ranker each system got, and which cases an artefact it used was
        trained on (their figures are in-sample)."""
        from engine.agents.tools import choose_ranker
        from engine.provenance import in_sample_cases

        rankers, in_sample = {}, set()
        for case_id, system in cases:
            choice = choose_ranker(self.tamo_model, self.stacker, system)
            rankers[system] = choice.description
            for path, _ in choice.artefacts:
                in_sample.update(in_sample_cases(path, [case_id]))
        return {"rankers": rankers, "in_sample_cases": sorted(in_sample)}

    def database(self) -> str:
        if os.getpid() == self.owner_pid:
            return self.db
        path = Path(self.db)
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path.with_name(f"{path.stem}-{os.getpid()}{path.suffix}"))

    def databases(self) -> list[Path]:
        """Every database this ranking wrote on this machine."""
        path = Path(self.db)
        return [p for p in [path, *sorted(path.parent.glob(f"{path.stem}-*{path.suffix}"))] if p.exists()]


def chains_verified(ranking: AgentRanking) -> bool:
    return all(Session(path).verify().ok for path in ranking.databases())


@lru_cache(maxsize=4)
def _session(db: str) -> Session:
    return Session(Path(db))
