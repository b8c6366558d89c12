"""The fault-injected runs of the injection study (``rca-tui eval injection``), and their cache.

The seven agents (heuristic reasoner) run on several incidents (Nezha cases, each loaded once, plus the bundled
demo) with one injected fault each (agent x step x mode, seeded); the runs whose consensus went wrong (no consensus
included) are kept as labelled trajectories (who = the injected agent, when = the step where the fault took
effect). Runs go in batches on fresh ledgers, in local processes or on a Dask cluster, with the serial results.

The kept runs are cached (``$RCA_TUI_CACHE/injection-runs``) keyed by what decides them: the study's run target,
incidents, seed and TAMO choice, and the code of the agents and of this module (not the tracers' code), so a study
is re-scored on the same runs after the tracer changed.
"""
from __future__ import annotations

import hashlib
import json
import random
import tempfile
from contextlib import closing
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from engine.agents.faults import FaultSpec
from engine.agents.roles import ROLES
from engine.agents.workflow import RunFailed
from engine.attribution.schema import Trajectory, trajectory_from_dict, trajectory_to_dict
from engine.config import DEMO_DIR, settings
from engine.evaluation.attribution import Progress
from engine.evaluation.injection_split import IncidentSplit
from engine.parallel import ordered_map
from engine.provenance import code_version
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.attribution import run_trajectory
from engine.runs.runner import run_incident
from engine.runs.session import Session
from engine.telemetry import list_cases, load_case
from engine.telemetry.model import Incident

MODES = ("hallucinate", "misreport", "vote_against")
STEPS = (0, 1, 2, 3)


def fault_grid(seed: int) -> list[FaultSpec]:
    """Every agent x step x mode, in a seeded order."""
    grid = [FaultSpec(role.key, step, mode) for role in ROLES for step in STEPS for mode in MODES
            if not (mode == "vote_against" and step)]  # vote_against ignores the step
    random.Random(seed).shuffle(grid)
    return grid


@dataclass(frozen=True)
class CaseSource:
    """An incident by its dataset folder and case id: batches name their cases instead of carrying them (an
    incident pickles to tens of MB), and each process loads a case once."""

    folder: Path
    case_id: str

    def load(self) -> Incident:
        return _load(self.folder, self.case_id)


@lru_cache(maxsize=None)
def _load(folder: Path, case_id: str) -> Incident:
    return load_case(folder, case_id)


def load_incidents(nezha_dir: Path | None, cases: int, seed: int) -> tuple[list[CaseSource], list[str]]:
    """The demo incident plus up to `cases` Nezha cases (seeded pick across systems) that load, never the demo's own
    case (the demo is a trimmed copy of it, and must stay out of training); and the cases skipped because they
    would not load (``case_id: error``)."""
    incidents = [CaseSource(DEMO_DIR, list_cases(DEMO_DIR)[0].case_id)]
    skipped = []
    if nezha_dir and cases:
        refs = [ref for ref in list_cases(nezha_dir) if ref.case_id != incidents[0].case_id]
        random.Random(seed).shuffle(refs)
        for ref in refs:
            if len(incidents) > cases:
                break
            try:
                CaseSource(nezha_dir, ref.case_id).load()
            except Exception as error:  # a case with missing files: skip it, say so
                skipped.append(f"{ref.case_id}: {error}")
            else:
                incidents.append(CaseSource(nezha_dir, ref.case_id))
    return incidents, skipped


@dataclass(frozen=True)
class PlannedRun:
    case: CaseSource
    fault: FaultSpec
    seed: int


@dataclass(frozen=True)
class Batch:
    """Consecutive runs on one fresh session database (a fresh one again after a run stops for lack of funds):
    what a batch does depends on nothing outside it, so batches may run anywhere, in any order."""

    folder: Path
    number: int
    runs: tuple[PlannedRun, ...]
    tamo_model: str = "default"


@dataclass(frozen=True)
class RunOutcome:
    case_id: str
    fault: FaultSpec
    failed: bool = False
    wrong: bool = False
    wrong_without_fault: bool = False
    trajectory: Trajectory | None = None
    """A wrong run's trajectory when the step where its fault took effect is known."""


def generate(folder: Path, incidents: list[CaseSource], split: IncidentSplit, target: int, seed: int,
             max_runs: int = 2000,
             runs_per_db: int = 8, progress: Progress | None = None, workers: int = 1,
             scheduler: str | None = None, tamo_model: str = "default") -> tuple[list[Trajectory], dict]:
    """Fault-injected runs until `target` wrong (labelled) runs are kept; round-robin over incidents and faults,
    each run with a phrasing template of its incident's side of the `split`.

    Wrong runs cost the agents stake and gas, so every `runs_per_db` runs (a batch) start on a fresh session
    database (fresh genesis), and so does the rest of a batch after a run stops for lack of funds. Batches run
    in `workers` local processes or on a Dask `scheduler`; their outcomes are taken in order until the target is
    reached, so the kept runs and the counts are the serial ones."""
    folder.mkdir(parents=True, exist_ok=True)
    kept: list[Trajectory] = []
    stats = {"runs": 0, "wrong": 0, "wrong_without_fault": 0, "duplicates": 0, "no_fault_step": 0, "failed": 0,
             "by_mode": {}, "by_agent": {}, "by_incident": {}, "by_template": {}}
    seen: set = set()
    batches = _batches(folder, incidents, split, seed,
                       min(max_runs, len(fault_grid(seed)) * len(incidents) * 3), runs_per_db, tamo_model)
    with closing(ordered_map(run_batch, batches, workers, scheduler)) as outcomes:
        for outcome in (outcome for batch in outcomes for outcome in batch):
            if len(kept) >= target:
                break  # closing the map cancels the batches not yet started
            stats["runs"] += 1
            if progress:
                progress(len(kept), target,
                         f"run {stats['runs']} ({outcome.case_id}, {outcome.fault.agent} {outcome.fault.mode})")
            _tally(outcome, kept, seen, stats)
    return kept, stats


def _batches(folder: Path, incidents: list[CaseSource], split: IncidentSplit, seed: int, runs: int,
             runs_per_db: int, tamo_model: str = "default") -> list[Batch]:
    grid = fault_grid(seed)
    planned = []
    for index in range(runs):
        incident = incidents[index % len(incidents)]
        templates = split.templates(incident.case_id)
        fault = replace(grid[(index // len(incidents)) % len(grid)],
                        template=templates[(index // len(incidents)) % len(templates)])
        run_seed = index // (len(incidents) * len(grid))  # the seed picks the decoy; new decoys on later passes
        planned.append(PlannedRun(incident, fault, run_seed))
    return [Batch(folder, number, tuple(planned[start:start + runs_per_db]), tamo_model)
            for number, start in enumerate(range(0, runs, runs_per_db))]


def run_batch(batch: Batch) -> list[RunOutcome]:
    outcomes = []
    databases = 0
    session = None
    for run in batch.runs:
        if session is None:
            session = Session(batch.folder / f"rca-{batch.number:03d}-{databases}.db")
            databases += 1
        try:
            result = run_incident(session, run.case.load(), HeuristicReasoner(), seed=run.seed, fault=run.fault,
                                  tamo_model=batch.tamo_model)
        except RunFailed:
            outcomes.append(RunOutcome(run.case.case_id, run.fault, failed=True))
            session = None
            continue
        outcomes.append(_outcome(session, run, result, batch.tamo_model))
    return outcomes


def _outcome(session: Session, run: PlannedRun, result: dict, tamo_model: str) -> RunOutcome:
    wrong = bool(result["label"]) and result["root_cause"] != result["label"]["root_cause"]
    if not wrong:
        return RunOutcome(run.case.case_id, run.fault)
    if goes_wrong_without_fault(run.case, run.seed, tamo_model):
        return RunOutcome(run.case.case_id, run.fault, wrong=True, wrong_without_fault=True)
    if result["injected_fault"]["trajectory_step"] is None:
        return RunOutcome(run.case.case_id, run.fault, wrong=True)
    return RunOutcome(run.case.case_id, run.fault, wrong=True, trajectory=run_trajectory(session, result["run_id"]))


def _tally(outcome: RunOutcome, kept: list[Trajectory], seen: set, stats: dict) -> None:
    if outcome.failed:
        stats["failed"] += 1
        return
    if not outcome.wrong:
        return
    stats["wrong"] += 1
    if outcome.wrong_without_fault:
        stats["wrong_without_fault"] += 1  # the fault did not cause it: no trustworthy label
        return
    if outcome.trajectory is None:
        stats["no_fault_step"] += 1
        return
    content = _content_key(outcome.trajectory)
    if content in seen:
        stats["duplicates"] += 1  # another fault (e.g. a later step of an agent that answers at once) same run
        return
    seen.add(content)
    kept.append(outcome.trajectory)
    for tally, key in (("by_mode", outcome.fault.mode), ("by_agent", outcome.fault.agent),
                       ("by_incident", outcome.case_id), ("by_template", str(outcome.fault.template))):
        stats[tally][key] = stats[tally].get(key, 0) + 1


def _content_key(trajectory: Trajectory) -> tuple:
    """Steps and label, without run ids and timestamps: two runs with the same key teach the same thing."""
    return (tuple((step.agent, step.kind, step.content) for step in trajectory.steps),
            trajectory.label.who, trajectory.label.when)


@lru_cache(maxsize=None)
def goes_wrong_without_fault(case: CaseSource, seed: int, tamo_model: str = "default") -> bool:
    """Whether the same incident goes wrong with no fault injected (fresh ledger): then a wrong faulty run says
    nothing about the fault. Asked once per case, seed and TAMO choice in each process."""
    with tempfile.TemporaryDirectory(prefix="fault-free-") as folder:
        result = run_incident(Session(Path(folder) / "rca.db"), case.load(), HeuristicReasoner(), seed=seed,
                              tamo_model=tamo_model)
    return bool(result["label"]) and result["root_cause"] != result["label"]["root_cause"]


RUN_CODE = ("agents", "reasoners", "runs", "ledger", "chain", "contracts", "store", "telemetry", "tamo", "stacking",
            "events.py", "config.py", "clock.py", "evaluation/injection_runs.py", "evaluation/injection_split.py",
            "attribution/schema.py", "attribution/adapters.py", "attribution/context.py")
"""The engine code a study's runs depend on (the tracers' code is not: re-scoring reuses the runs)."""


def runs_cache_path(runs: int, seed: int, tamo_model: str, incidents: list[CaseSource]) -> Path:
    """Where a study's kept runs are cached: keyed by what decides them (the run target, the seed, the TAMO choice,
    the incidents and the agents' code), not by the tracer's settings."""
    key = json.dumps([code_version(*RUN_CODE), runs, seed, tamo_model,
                      [[str(i.folder.resolve()), i.case_id] for i in incidents]])
    return settings().cache_root / "injection-runs" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def read_cached_runs(path: Path) -> tuple[list[Trajectory], dict] | None:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        return [trajectory_from_dict(t) for t in stored["trajectories"]], stored["stats"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no cache yet, or one this code cannot read: generate


def write_cached_runs(path: Path, trajectories: list[Trajectory], stats: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({"stats": stats, "trajectories": [trajectory_to_dict(t) for t in trajectories]},
                                  default=str), encoding="utf-8")
    partial.replace(path)
