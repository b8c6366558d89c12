"""Fault-injection evaluation of attribution on our own agents (``rca-tui eval injection``).

Runs the seven agents (heuristic reasoner) on several incidents (Nezha cases, each loaded once, plus the bundled
demo) with one injected fault each (agent x step x mode, seeded), keeps the runs whose consensus went wrong
(consensus != label root cause, no consensus included) as labelled trajectories (who = the injected agent, when =
the step where the fault took effect), and scores who / when exact-match accuracy of the rule tracer, the learned
tracer and the trivial baselines: held out (templates, modes and incidents the tracer never trained on, the demo
never in training; see injection_split) and, for comparison, k-fold over every kept run. The runs (in batches on
fresh ledgers) and the feature extraction scale out over local processes or a Dask cluster with the serial results.
"""
from __future__ import annotations

import random
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from engine.agents.faults import FaultSpec
from engine.agents.roles import ROLES
from engine.agents.workflow import RunFailed
from engine.attribution import learned
from engine.attribution.node_features import PREVIOUS_DEFAULT_GROUPS
from engine.attribution.schema import Trajectory
from engine.attribution.slm import DEFAULT_MODEL
from engine.evaluation.attribution import EvalConfig, Progress, evaluate, extract_all, fit_all, score_tracer
from engine.evaluation.injection_split import IncidentSplit, held_out_report, split_incidents
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.attribution import engine_run_config, run_trajectory
from engine.config import DEMO_DIR
from engine.parallel import ordered_map
from engine.runs.runner import run_incident
from engine.runs.session import Session
from engine.telemetry import list_cases, load_case
from engine.telemetry.model import Incident

MODES = ("hallucinate", "misreport", "vote_against")
STEPS = (0, 1, 2, 3)


@dataclass(frozen=True)
class InjectionStudy:
    runs: int = 60
    """Labelled (wrong) runs to keep."""
    cases: int = 6
    """Nezha cases besides the demo."""
    nezha: Path | None = None
    """Nezha dataset root; without it, the demo incident alone."""
    model: str = DEFAULT_MODEL
    folds: int = 5
    seeds: tuple[int, ...] = (0, 1, 2)
    """CV seeds of the learned tracer."""
    max_tokens: int = 640
    seed: int = 0
    """Seed of the fault grid and the case pick."""
    db: Path | None = None
    """Folder for the session databases (default: a new temporary folder); Dask workers must see it."""
    workers: int = 1
    """Runs and feature extraction in N local processes ..."""
    scheduler: str | None = None
    """... or on this Dask cluster (tcp://HOST:PORT)."""
    tamo_model: str = "default"
    """TAMO checkpoint of the agents, as run_incident takes it ("default", "none" or a path)."""


def run_study(study: InjectionStudy, given_tracer: Path | None = None, save_tracer: Path | None = None,
              progress: Progress | None = None) -> dict:
    """Generate the labelled runs, score every tracer on them; ``given_tracer`` is also scored as it is (no CV),
    and ``save_tracer`` receives a learned tracer trained on every kept run but the demo incident's (the demo is
    what users attribute first: it stays out of training)."""
    started = time.perf_counter()
    db = study.db or Path(tempfile.mkdtemp(prefix="injection-eval-"))
    incidents, skipped = load_incidents(study.nezha, study.cases, study.seed)
    split = split_incidents(incidents[0].case_id, [i.case_id for i in incidents[1:]])
    trajectories, stats = generate(db, incidents, split, study.runs, study.seed, progress=progress,
                                   workers=study.workers, scheduler=study.scheduler, tamo_model=study.tamo_model)
    stats.update(generation_seconds=round(time.perf_counter() - started, 2), incidents=[i.case_id for i in incidents],
                 skipped_cases=skipped, db=str(db), trajectory_ids=[t.id for t in trajectories],
                 tamo_model=study.tamo_model)
    config = _eval_config(study)
    features_progress = progress and (lambda done, total, label: progress(done, total, f"features {label}"))
    report = evaluate(trajectories, config, features_progress)
    report["generation"] = stats
    report["held_out"] = held_out_report(extract_all(trajectories, config)[0], split, config)  # features cached
    if given_tracer:
        report["given_tracer"] = {"path": str(given_tracer),
                                  **score_tracer(trajectories, learned.load(given_tracer), config)}
    if save_tracer:
        save_tracer.parent.mkdir(parents=True, exist_ok=True)
        training = [t for t in trajectories if t.meta["incident"] != incidents[0].case_id]
        learned.save(fit_all(training, config), save_tracer)
        report["saved_tracer"] = {"path": str(save_tracer), "trained_on": [t.id for t in training]}
    report["steps_median"] = sorted(len(t.steps) for t in trajectories)[len(trajectories) // 2] if trajectories else 0
    return report


def _eval_config(study: InjectionStudy) -> EvalConfig:
    """The learned tracer keeps the feature groups the injection figures were measured with (the Who&When default
    changed in session 10 and has not been measured on engine runs)."""
    base = engine_run_config()
    return EvalConfig(model_name=study.model, folds=study.folds, seeds=study.seeds, ablations=False,
                      attribution=replace(base, features=replace(base.features, max_tokens=study.max_tokens)),
                      learned=learned.LearnedConfig(groups=PREVIOUS_DEFAULT_GROUPS),
                      workers=study.workers, scheduler=study.scheduler)


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
