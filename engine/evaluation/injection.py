"""Fault-injection evaluation of attribution on our own agents (``rca-tui eval injection``).

The labelled runs come from :mod:`engine.evaluation.injection_runs` (generated, or read back from its cache); this
module scores who / when exact-match accuracy of the rule tracer, the learned tracer and the trivial baselines on
them: held out (templates, modes and incidents the tracer never trained on, the demo never in training; see
injection_split) and, for comparison, k-fold over every kept run. Feature extraction scales out over local processes
or a Dask cluster with the serial results.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from engine.agents.faults import MODES
from engine.attribution import learned
from engine.attribution.grounding import audit
from engine.attribution.slm import DEFAULT_MODEL
from engine.evaluation.attribution import (EvalConfig, Progress, evaluate, extract_all, fit_all, gold_of,
                                           score_tracer)
from engine.attribution.schema import Trajectory
from engine.evaluation.injection_runs import (CaseSource, generate, load_incidents, read_cached_runs, runs_cache_path,
                                              write_cached_runs)
from engine.evaluation.baselines import candidate_steps, step_prediction
from engine.evaluation.injection_split import IncidentSplit, held_out_report, in_test, split_incidents
from engine.evaluation.metrics import Prediction, who_when_scores
from engine.runs.attribution import ENGINE_RUN_LEARNED, engine_run_config


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
    max_tokens: int | None = None
    """Tokens of the SLM window; None: the engine-run layout's (ENGINE_RUN_TOKENS)."""
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
    reuse_runs: bool = True
    """Read the runs back from the runs cache when this study (same parameters, same agent code) made them before."""
    train_seeds: tuple[int, ...] = ()
    """Studies of these seeds (same parameters) add training runs to the held-out protocol (see
    injection_split.trains_beside), and to the saved tracer's training set."""


def run_study(study: InjectionStudy, given_tracer: Path | None = None, save_tracer: Path | None = None,
              progress: Progress | None = None) -> dict:
    """Generate the labelled runs, score every tracer on them; ``given_tracer`` is also scored as it is (no CV),
    and ``save_tracer`` receives a learned tracer trained on every kept run (of every seed) but the demo
    incident's (the demo is what users attribute first: it stays out of training)."""
    incidents, trajectories, stats = study_runs(study, progress)
    beside = {seed: study_runs(replace(study, seed=seed), progress)[1] for seed in study.train_seeds}
    split = split_incidents(incidents[0].case_id, [i.case_id for i in incidents[1:]])
    config = _eval_config(study)
    features_progress = progress and (lambda done, total, label: progress(done, total, f"features {label}"))
    report = evaluate(trajectories, config, features_progress)
    report["generation"] = stats
    extra = [t for runs in beside.values() for t in runs]
    report["held_out"] = held_out_report(extract_all(trajectories, config)[0], split, config,  # features cached
                                         extract_all(extra, config, features_progress)[0])
    report["held_out"]["train_seeds"] = list(study.train_seeds)
    report["grounding_audit"] = audit_scores(trajectories, split)
    if given_tracer:
        report["given_tracer"] = {"path": str(given_tracer),
                                  **score_tracer(trajectories, learned.load(given_tracer), config)}
    if save_tracer:
        save_tracer.parent.mkdir(parents=True, exist_ok=True)
        training = {run_name(seed, t): t for seed, runs in {study.seed: trajectories, **beside}.items()
                    for t in runs if t.meta["incident"] != incidents[0].case_id}
        learned.save(fit_all(list(training.values()), config), save_tracer)
        report["saved_tracer"] = {"path": str(save_tracer), "trained_on": list(training)}
    report["steps_median"] = sorted(len(t.steps) for t in trajectories)[len(trajectories) // 2] if trajectories else 0
    return report


def audit_scores(trajectories: list[Trajectory], split: IncidentSplit) -> dict:
    """The grounding audit alone, nothing learned: who / when of :func:`audit_predictions` on every kept run and on
    the held-out protocol's test runs (each test run once)."""
    test = [t for t in trajectories if any(in_test(t, split, mode) for mode in MODES)]
    return {name: who_when_scores(audit_predictions(runs), [gold_of(t) for t in runs])
            for name, runs in (("all_kept", trajectories), ("held_out_test", test))}


def audit_predictions(trajectories: list[Trajectory]) -> list[Prediction]:
    """The agent and step of the run's first report (answer, action, vote) that disagrees with the tool outputs
    before it (see :mod:`engine.attribution.grounding`); the first agent turn when none does."""
    steps = [audit(t).first_diverging_report() for t in trajectories]
    return [step_prediction(t, step if step >= 0 else candidate_steps(t)[0]) for t, step in zip(trajectories, steps)]


def study_runs(study: InjectionStudy, progress: Progress | None = None) -> tuple[list[CaseSource], list[Trajectory],
                                                                                  dict]:
    """The study's incidents and kept runs, read back from the runs cache or generated (and cached), with the
    generation's counts."""
    started = time.perf_counter()
    incidents, skipped = load_incidents(study.nezha, study.cases, study.seed)
    split = split_incidents(incidents[0].case_id, [i.case_id for i in incidents[1:]])
    cache = runs_cache_path(study.runs, study.seed, study.tamo_model, incidents)
    cached = read_cached_runs(cache) if study.reuse_runs else None
    if cached is None:
        db = study.db or Path(tempfile.mkdtemp(prefix="injection-eval-"))
        trajectories, stats = generate(db / f"seed-{study.seed}", incidents, split, study.runs, study.seed,
                                       progress=progress, workers=study.workers, scheduler=study.scheduler,
                                       tamo_model=study.tamo_model)
        stats.update(generation_seconds=round(time.perf_counter() - started, 2),
                     incidents=[i.case_id for i in incidents], skipped_cases=skipped, db=str(db),
                     trajectory_ids=[t.id for t in trajectories], tamo_model=study.tamo_model)
        write_cached_runs(cache, trajectories, stats)
    else:
        trajectories, stats = cached
    stats["runs_cache"] = {"path": str(cache), "reused": cached is not None}
    return incidents, trajectories, stats


def run_name(seed: int, trajectory: Trajectory) -> str:
    """A kept run's name in a manifest: run ids restart with each session database, so the seed, the incident and
    the injected fault (agent:step:mode, as ``--inject-fault`` takes it) go with it."""
    fault = trajectory.meta["injected_fault"]
    return (f"{trajectory.id} seed {seed} {trajectory.meta['incident']} "
            f"{fault['agent']}:{fault['agent_step']}:{fault['mode']}")


def _eval_config(study: InjectionStudy) -> EvalConfig:
    base = engine_run_config()
    return EvalConfig(model_name=study.model, folds=study.folds, seeds=study.seeds, ablations=False,
                      learned=ENGINE_RUN_LEARNED,
                      attribution=replace(base, features=replace(base.features,
                                                                 max_tokens=study.max_tokens or base.features.max_tokens)),
                      workers=study.workers, scheduler=study.scheduler)
