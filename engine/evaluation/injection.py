"""Fault-injection evaluation of attribution on our own agents (``rca-tui eval injection``).

Runs the seven agents (heuristic reasoner) on several incidents (Nezha cases, each loaded once, plus the bundled
demo) with one injected fault each (agent x step x mode, seeded), keeps the runs whose consensus went wrong
(consensus != label root cause, no consensus included) as labelled trajectories (who = the injected agent, when =
the step where the fault took effect), and scores who / when exact-match accuracy of the rule tracer, the learned
tracer (k-fold CV) and the trivial baselines.
"""
from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from engine.agents.faults import FaultSpec
from engine.agents.roles import ROLES
from engine.agents.workflow import RunFailed
from engine.attribution import learned
from engine.attribution.schema import Trajectory
from engine.attribution.slm import DEFAULT_MODEL
from engine.evaluation.attribution import EvalConfig, Progress, evaluate, fit_all, score_tracer
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.attribution import engine_run_config, run_trajectory
from engine.config import DEMO_DIR
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
    """Folder for the session databases (default: a new temporary folder)."""


def run_study(study: InjectionStudy, given_tracer: Path | None = None, save_tracer: Path | None = None,
              progress: Progress | None = None) -> dict:
    """Generate the labelled runs, score every tracer on them; ``given_tracer`` is also scored as it is (no CV),
    and ``save_tracer`` receives a learned tracer trained on every kept run."""
    started = time.perf_counter()
    db = study.db or Path(tempfile.mkdtemp(prefix="injection-eval-"))
    incidents, skipped = load_incidents(study.nezha, study.cases, study.seed)
    trajectories, stats = generate(db, incidents, study.runs, study.seed, progress=progress)
    stats.update(generation_seconds=round(time.perf_counter() - started, 2), incidents=[i.case_id for i in incidents],
                 skipped_cases=skipped, db=str(db), trajectory_ids=[t.id for t in trajectories])
    config = _eval_config(study)
    features_progress = progress and (lambda done, total, label: progress(done, total, f"features {label}"))
    report = evaluate(trajectories, config, features_progress)
    report["generation"] = stats
    if given_tracer:
        report["given_tracer"] = {"path": str(given_tracer),
                                  **score_tracer(trajectories, learned.load(given_tracer), config)}
    if save_tracer:
        save_tracer.parent.mkdir(parents=True, exist_ok=True)
        learned.save(fit_all(trajectories, config), save_tracer)
        report["saved_tracer"] = str(save_tracer)
    report["steps_median"] = sorted(len(t.steps) for t in trajectories)[len(trajectories) // 2] if trajectories else 0
    return report


def _eval_config(study: InjectionStudy) -> EvalConfig:
    base = engine_run_config()
    return EvalConfig(model_name=study.model, folds=study.folds, seeds=study.seeds, ablations=False,
                      attribution=replace(base, features=replace(base.features, max_tokens=study.max_tokens)))


def fault_grid(seed: int) -> list[FaultSpec]:
    """Every agent x step x mode, in a seeded order."""
    grid = [FaultSpec(role.key, step, mode) for role in ROLES for step in STEPS for mode in MODES
            if not (mode == "vote_against" and step)]  # vote_against ignores the step
    random.Random(seed).shuffle(grid)
    return grid


def load_incidents(nezha_dir: Path | None, cases: int, seed: int) -> tuple[list[Incident], list[str]]:
    """The demo incident plus up to `cases` Nezha cases (seeded pick across systems), each loaded once; and the
    cases skipped because they would not load (``case_id: error``)."""
    incidents = [load_case(DEMO_DIR, list_cases(DEMO_DIR)[0].case_id)]
    skipped = []
    if nezha_dir and cases:
        refs = list_cases(nezha_dir)
        random.Random(seed).shuffle(refs)
        for ref in refs:
            if len(incidents) > cases:
                break
            try:
                incidents.append(load_case(nezha_dir, ref.case_id))
            except Exception as error:  # a case with missing files: skip it, say so
                skipped.append(f"{ref.case_id}: {error}")
    return incidents, skipped


def generate(folder: Path, incidents: list[Incident], target: int, seed: int, max_runs: int = 2000,
             runs_per_db: int = 8, progress: Progress | None = None) -> tuple[list[Trajectory], dict]:
    """Fault-injected runs until `target` wrong (labelled) runs are kept; round-robin over incidents and faults.

    Wrong runs cost the agents stake and gas, so a fresh session database (fresh genesis) is started every
    `runs_per_db` runs, and whenever a run stops for lack of funds."""
    folder.mkdir(parents=True, exist_ok=True)
    databases = 0
    session = None

    grid = fault_grid(seed)
    kept: list[Trajectory] = []
    stats = {"runs": 0, "wrong": 0, "wrong_without_fault": 0, "duplicates": 0, "no_fault_step": 0, "failed": 0,
             "by_mode": {}, "by_agent": {}, "by_incident": {}}
    reasoner = HeuristicReasoner()
    fault_free: dict = {}
    seen: set = set()
    index = 0
    while len(kept) < target and stats["runs"] < max_runs and index < len(grid) * len(incidents) * 3:
        incident = incidents[index % len(incidents)]
        fault = grid[(index // len(incidents)) % len(grid)]
        run_seed = index // (len(incidents) * len(grid))  # the seed picks the decoy; new decoys on later passes
        index += 1
        if session is None or stats["runs"] % runs_per_db == 0:
            session, databases = Session(folder / f"rca-{databases:03d}.db"), databases + 1
        stats["runs"] += 1
        if progress:
            progress(len(kept), target, f"run {stats['runs']} ({incident.case_id}, {fault.agent} {fault.mode})")
        try:
            result = run_incident(session, incident, reasoner, seed=run_seed, fault=fault)
        except RunFailed:
            stats["failed"] += 1
            session = None
            continue
        wrong = result["label"] and result["root_cause"] != result["label"]["root_cause"]
        if not wrong:
            continue
        stats["wrong"] += 1
        if wrong_without_fault(incident, run_seed, fault_free):
            stats["wrong_without_fault"] += 1  # the fault did not cause it: no trustworthy label
            continue
        if result["injected_fault"]["trajectory_step"] is None:
            stats["no_fault_step"] += 1
            continue
        trajectory = run_trajectory(session, result["run_id"])
        content = _content_key(trajectory)
        if content in seen:
            stats["duplicates"] += 1  # another fault (e.g. a later step of an agent that answers at once) same run
            continue
        seen.add(content)
        kept.append(trajectory)
        for tally, key in (("by_mode", fault.mode), ("by_agent", fault.agent), ("by_incident", incident.case_id)):
            stats[tally][key] = stats[tally].get(key, 0) + 1
    return kept, stats


def _content_key(trajectory: Trajectory) -> tuple:
    """Steps and label, without run ids and timestamps: two runs with the same key teach the same thing."""
    return (tuple((step.agent, step.kind, step.content) for step in trajectory.steps),
            trajectory.label.who, trajectory.label.when)


def wrong_without_fault(incident: Incident, seed: int, cache: dict) -> bool:
    """Whether the same incident goes wrong with no fault injected (fresh ledger): then a wrong faulty run says
    nothing about the fault. ``cache`` keeps one answer per (case, seed)."""
    key = (incident.case_id, seed)
    if key not in cache:
        with tempfile.TemporaryDirectory(prefix="fault-free-") as folder:
            result = run_incident(Session(Path(folder) / "rca.db"), incident, HeuristicReasoner(), seed=seed)
        cache[key] = bool(result["label"]) and result["root_cause"] != result["label"]["root_cause"]
    return cache[key]
