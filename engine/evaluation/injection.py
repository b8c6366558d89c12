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

from engine.attribution import learned
from engine.attribution.slm import DEFAULT_MODEL
from engine.evaluation.attribution import EvalConfig, Progress, evaluate, extract_all, fit_all, score_tracer
from engine.evaluation.injection_runs import (generate, load_incidents, read_cached_runs, runs_cache_path,
                                              write_cached_runs)
from engine.evaluation.injection_split import held_out_report, split_incidents
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
    reuse_runs: bool = True
    """Read the runs back from the runs cache when this study (same parameters, same agent code) made them before."""


def run_study(study: InjectionStudy, given_tracer: Path | None = None, save_tracer: Path | None = None,
              progress: Progress | None = None) -> dict:
    """Generate the labelled runs, score every tracer on them; ``given_tracer`` is also scored as it is (no CV),
    and ``save_tracer`` receives a learned tracer trained on every kept run but the demo incident's (the demo is
    what users attribute first: it stays out of training)."""
    started = time.perf_counter()
    db = study.db or Path(tempfile.mkdtemp(prefix="injection-eval-"))
    incidents, skipped = load_incidents(study.nezha, study.cases, study.seed)
    split = split_incidents(incidents[0].case_id, [i.case_id for i in incidents[1:]])
    cache = runs_cache_path(study.runs, study.seed, study.tamo_model, incidents)
    cached = read_cached_runs(cache) if study.reuse_runs else None
    if cached is None:
        trajectories, stats = generate(db, incidents, split, study.runs, study.seed, progress=progress,
                                       workers=study.workers, scheduler=study.scheduler, tamo_model=study.tamo_model)
        stats.update(generation_seconds=round(time.perf_counter() - started, 2),
                     incidents=[i.case_id for i in incidents], skipped_cases=skipped, db=str(db),
                     trajectory_ids=[t.id for t in trajectories], tamo_model=study.tamo_model)
        write_cached_runs(cache, trajectories, stats)
    else:
        trajectories, stats = cached
    stats["runs_cache"] = {"path": str(cache), "reused": cached is not None}
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
    base = engine_run_config()
    return EvalConfig(model_name=study.model, folds=study.folds, seeds=study.seeds, ablations=False,
                      learned=ENGINE_RUN_LEARNED,
                      attribution=replace(base, features=replace(base.features, max_tokens=study.max_tokens)),
                      workers=study.workers, scheduler=study.scheduler)
