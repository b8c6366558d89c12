"""The seven agents as a picklable ranking function for batch evaluations, serial or scaled out.

The process that creates it records its runs in the given database; any other process (a local worker, a
Dask worker) in its own file beside it, `<stem>-<pid>.db`, so no two processes share a SQLite writer. Gas and
penalties drain the agents over a long batch; when an agent can no longer pay for its transactions the batch goes
on, from that case, on a fresh ledger beside the spent one (`<stem>-ledger<k>.db`), instead of failing every
remaining case.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from engine.agents.workflow import RunFailed
from engine.ledger.mempool import RejectCode, TxRejected
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
    fault_kind_model: str | None = "default"  # the Solution Engineer's fault-type classifier (see Toolbox)
    owner_pid: int = field(default_factory=os.getpid)

    def __call__(self, incident: Incident) -> dict:
        """The consensus ranking and the fault type the Solution Engineer's plan goes by (None without one)."""
        try:
            return self._run(incident)
        except RunFailed as failed:
            if not _out_of_funds(failed):
                raise
        _spent_ledgers[self.database()] = _next_ledger(Path(self._own_database()))
        return self._run(incident)

    def _run(self, incident: Incident) -> dict:
        result = run_incident(_session(self.database()), incident, HeuristicReasoner(), dataset=self.dataset,
                              tamo_model=self.tamo_model, stacker=self.stacker,
                              fault_kind_model=self.fault_kind_model)
        return {"ranking": result["ranking"], "fault_type": (result.get("fault_type") or {}).get("fault_type")}

    def provenance(self, cases: list[tuple[str, str]]) -> dict:
        """For (case id, system) pairs: the ranker each system got, and which cases an artefact it used was
        trained on (their figures are in-sample); likewise the fault-kind classifier, where it is offered."""
        from engine.agents.tools import choose_fault_kind, choose_ranker
        from engine.provenance import in_sample_cases

        rankers, in_sample = {}, set()
        for case_id, system in cases:
            choice = choose_ranker(self.tamo_model, self.stacker, system)
            rankers[system] = choice.description
            for path, _ in choice.artefacts:
                in_sample.update(in_sample_cases(path, [case_id]))
        typed_in_sample = set()
        for case_id, system in cases:
            classifier = choose_fault_kind(self.fault_kind_model, system)
            typed_in_sample.update(in_sample_cases(classifier, [case_id]) if classifier else [])
        return {"rankers": rankers, "in_sample_cases": sorted(in_sample),
                "fault_type_in_sample_cases": sorted(typed_in_sample)}

    def database(self) -> str:
        current = self._own_database()
        while current in _spent_ledgers:
            current = _spent_ledgers[current]
        return current

    def _own_database(self) -> str:
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


_spent_ledgers: dict[str, str] = {}   # a ledger whose agents ran out of gas money -> the one that replaced it


def _out_of_funds(failed: BaseException) -> bool:
    cause = failed.__cause__ or failed.__context__
    while cause is not None:
        if isinstance(cause, TxRejected) and cause.code is RejectCode.INSUFFICIENT_FUNDS:
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _next_ledger(spent: Path) -> str:
    number = 2
    while (fresh := spent.with_name(f"{spent.stem}-ledger{number}{spent.suffix}")).exists():
        number += 1
    return str(fresh)


@lru_cache(maxsize=4)
def _session(db: str) -> Session:
    return Session(Path(db))
