"""Latency benchmark (``rca-tui eval attribution-bench --data DIR [--n 12] [--threads 2]``).

Measures the model load time, then per-trajectory attribution latency uncached (the SLM's passes and the
counterfactual test, cache off) and cached (features and effects read back from disk), as median / p90 / max.
Targets on 2 cores: median ≤ 2 s uncached, ≤ 50 ms cached. Uncached, the CPU seconds the process used are reported
too: on a machine shared with other work the wall clock mostly measures the others, the CPU time much less so.
Not a pass/fail test: it reports figures.
"""
from __future__ import annotations

import os
import time

import numpy as np

from engine.attribution.features import extract_features
from engine.attribution.pipeline import AttributionConfig, analyse_with_effects, attribution_from_scores
from engine.attribution.schema import Trajectory
from engine.attribution.slm import DEFAULT_MODEL, load_model


def spread(trajectories: list[Trajectory], count: int) -> list[Trajectory]:
    """``count`` trajectories evenly spread over the list (both subsets of a Who&When root)."""
    if count >= len(trajectories):
        return trajectories
    return [trajectories[i] for i in np.linspace(0, len(trajectories) - 1, count).round().astype(int)]


def time_attribution(trajectory: Trajectory, model_name: str, config: AttributionConfig,
                     use_cache: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads) of one attribution."""
    started, cpu_started = time.perf_counter(), time.process_time()
    features = extract_features(trajectory, model_name, config.features, use_cache=use_cache)
    analysis = analyse_with_effects(trajectory, features, model_name, config, use_cache=use_cache)
    attribution_from_scores(analysis, analysis.rule_score, config)
    return time.perf_counter() - started, time.process_time() - cpu_started


def run_benchmark(trajectories: list[Trajectory], model_name: str = DEFAULT_MODEL) -> dict:
    config = AttributionConfig()
    started = time.perf_counter()
    load_model(model_name)
    load_seconds = time.perf_counter() - started
    uncached = [time_attribution(t, model_name, config, use_cache=False) for t in trajectories]
    for trajectory in trajectories:  # make sure the cache holds them
        analyse_with_effects(trajectory, extract_features(trajectory, model_name, config.features), model_name, config)
    cached = [time_attribution(t, model_name, config, use_cache=True)[0] for t in trajectories]
    return {
        "model": model_name,
        "trajectories": len(trajectories),
        "model_load_seconds": round(load_seconds, 2),
        "uncached_seconds": _stats([wall for wall, _ in uncached]),
        "uncached_cpu_seconds": _stats([cpu for _, cpu in uncached]),
        "cached_milliseconds": _stats([1000 * c for c in cached]),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": round(float(np.median(values)), 3), "p90": round(float(np.percentile(values, 90)), 3),
            "max": round(float(np.max(values)), 3)}
