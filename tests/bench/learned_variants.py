"""The learned-tracer variants tried for issue 13 (session 10), each scored out of sample on the Who&When dev split
(prints figures; not a pass/fail test):

    python -m tests.bench.learned_variants --data ../shared/datasets/who_when

Per variant: 5-fold x seeds 0 1 2 on Hand-Crafted and on Algorithm-Generated, then trained on one subset and scored
on the other (seeds 0 1 2), who / when exact match with the evaluation's own scorer. Every constant (weight decay
0.3 / 3 / 10, the feature groups) was fixed before scoring. SLM features come from the one-window default layout,
cached by ``eval attribution``; the feature matrices are memoised per trajectory here, so a variant takes ~15
CPU-seconds instead of ~110.
"""
from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from engine.attribution import learned
from engine.attribution.adapters import load_trajectories
from engine.attribution.analysis import Analysis
from engine.attribution.learned import LearnedConfig
from engine.attribution.node_features import PREVIOUS_DEFAULT_GROUPS, agent_feature_names
from engine.attribution.pipeline import AttributionConfig
from engine.evaluation.attribution import EvalConfig, extract_all, gold_of, held_out_learned, learned_predictions
from engine.evaluation.metrics import who_when_scores

SEEDS = (0, 1, 2)
SUBSETS = ("Hand-Crafted", "Algorithm-Generated")
_PREVIOUS = PREVIOUS_DEFAULT_GROUPS
_NO_SLM = ("position", "text", "ground_truth", "feedback")
VARIANTS = {
    "previous default (position, text, slm, ground_truth)": (LearnedConfig(groups=_PREVIOUS), {}),
    "previous + feedback": (LearnedConfig(groups=_PREVIOUS + ("feedback",)), {}),
    "previous + feedback, weight decay 3": (LearnedConfig(groups=_PREVIOUS + ("feedback",), weight_decay=3.0), {}),
    "previous + feedback + own_rank": (LearnedConfig(groups=_PREVIOUS + ("feedback", "own_rank")), {}),
    "previous + feedback + novelty": (LearnedConfig(groups=_PREVIOUS + ("feedback", "novelty")), {}),
    "previous + feedback + own_rank + novelty":
        (LearnedConfig(groups=_PREVIOUS + ("feedback", "own_rank", "novelty")), {}),
    "previous + feedback + own_rank, weight decay 10":
        (LearnedConfig(groups=_PREVIOUS + ("feedback", "own_rank"), weight_decay=10.0), {}),
    "previous + novelty": (LearnedConfig(groups=_PREVIOUS + ("novelty",)), {}),
    "previous + own_rank": (LearnedConfig(groups=_PREVIOUS + ("own_rank",)), {}),
    "no slm, no feedback (position, text, ground_truth)":
        (LearnedConfig(groups=("position", "text", "ground_truth")), {}),
    "no slm + feedback": (LearnedConfig(groups=_NO_SLM), {}),
    "no slm + feedback, weight decay 3": (LearnedConfig(groups=_NO_SLM, weight_decay=3.0), {}),
    "no slm + feedback + own_rank": (LearnedConfig(groups=_NO_SLM + ("own_rank",)), {}),
    "no slm + feedback + novelty": (LearnedConfig(groups=_NO_SLM + ("novelty",)), {}),
    **{f"no slm + feedback + own_rank, weight decay {decay}":
       (LearnedConfig(groups=_NO_SLM + ("own_rank",), weight_decay=decay), {}) for decay in (0.3, 3.0, 10.0)},
    "no slm + feedback + own_rank, mlp": (LearnedConfig(groups=_NO_SLM + ("own_rank",), model_type="mlp"), {}),
    "no slm + feedback + own_rank, step-level": (LearnedConfig(groups=_NO_SLM + ("own_rank",), factorised=False), {}),
    "no slm + feedback + own_rank, with ground truth": (LearnedConfig(groups=_NO_SLM + ("own_rank",)),
                                                        {"with_gt": True}),
    "previous + feedback, agent scorer without position":
        (LearnedConfig(groups=_PREVIOUS + ("feedback",)), {"agent_position": False}),
    "no slm + feedback, agent scorer without position":
        (LearnedConfig(groups=_NO_SLM), {"agent_position": False}),
    "no slm + feedback, every agent step a candidate (not only the window's)":
        (LearnedConfig(groups=_NO_SLM), {"all_steps": True}),
    "default (no slm + feedback + own_rank + novelty)": (LearnedConfig(), {}),
    "default, with ground truth": (LearnedConfig(), {"with_gt": True}),
}


def scores(analyses: dict, config: LearnedConfig, with_gt: bool) -> list[tuple[float, float]]:
    """who / when: 5-fold on each subset, then Algorithm-Generated -> Hand-Crafted and back (means over SEEDS)."""
    figures = []
    for subset in SUBSETS:
        golds = [gold_of(a.trajectory) for a in analyses[subset]]
        runs = [learned_predictions(analyses[subset], AttributionConfig(), config, 5, seed, with_gt) for seed in SEEDS]
        figures.append(_mean([who_when_scores(run, golds) for run in runs]))
    for train, test in (SUBSETS[::-1], SUBSETS):
        golds = [gold_of(a.trajectory) for a in analyses[test]]
        runs = held_out_learned(analyses[train], analyses[test], EvalConfig(learned=config, seeds=SEEDS), with_gt)
        figures.append(_mean([who_when_scores(run, golds) for run in runs]))
    return figures


def _mean(runs: list[dict]) -> tuple[float, float]:
    return float(np.mean([r["who"] for r in runs])), float(np.mean([r["when"] for r in runs]))


@contextmanager
def memoised_features():
    """Feature matrices computed once per trajectory and group set (the folds and seeds refit on the same ones)."""
    originals = learned.node_features, learned.agent_features
    caches: tuple[dict, dict] = ({}, {})

    def memo(function, cache):
        def cached(analysis, groups, with_gt):
            key = (id(analysis), groups, with_gt)
            if key not in cache:
                cache[key] = function(analysis, groups, with_gt)
            return cache[key]
        return cached

    learned.node_features, learned.agent_features = (memo(f, c) for f, c in zip(originals, caches))
    try:
        yield
    finally:
        learned.node_features, learned.agent_features = originals


@contextmanager
def agent_scorer_without_position():
    """The agent scorer reads every group but ``position`` (the agent's share of turns, whether it opens...)."""
    features, names = learned.agent_features, learned.agent_feature_names
    dropped = set(agent_feature_names(("position",)))

    def kept_columns(groups):
        return [i for i, name in enumerate(agent_feature_names(groups)) if name not in dropped]

    learned.agent_features = lambda analysis, groups, gt: features(analysis, groups, gt)[:, kept_columns(groups)]
    learned.agent_feature_names = lambda groups: [n for n in agent_feature_names(groups) if n not in dropped]
    try:
        yield
    finally:
        learned.agent_features, learned.agent_feature_names = features, names


def every_agent_step_a_candidate(analyses: dict) -> dict:
    return {subset: [every_agent_step(a) for a in subset_analyses] for subset, subset_analyses in analyses.items()}


def every_agent_step(analysis: Analysis) -> Analysis:
    """Every agent step (not the question, not tool output) may be named, not only those the SLM's window read."""
    return replace(analysis, candidates=np.array([s.kind not in ("query", "observation")
                                                  for s in analysis.trajectory.steps]))


def dev_analyses(data: str) -> dict:
    """Per subset, the labelled trajectories analysed (SLM features and counterfactuals from the on-disk cache)."""
    analyses = {}
    for subset in SUBSETS:
        labelled = [t for t in load_trajectories(data, subset) if t.label and t.label.when is not None]
        analyses[subset] = extract_all(labelled, EvalConfig())[0]
    return analyses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Who&When root (Hand-Crafted/, Algorithm-Generated/)")
    args = parser.parse_args()
    analyses = dev_analyses(args.data)
    print(f"{'variant (who / when)':<72} {'HC 5-fold':>12} {'AG 5-fold':>12} {'AG->HC':>12} {'HC->AG':>12}")
    with memoised_features():
        for name, (config, options) in VARIANTS.items():
            chosen = every_agent_step_a_candidate(analyses) if options.get("all_steps") else analyses
            if options.get("agent_position", True):
                figures = scores(chosen, config, options.get("with_gt", False))
            else:
                with agent_scorer_without_position():
                    figures = scores(chosen, config, options.get("with_gt", False))
            print(f"{name:<72} " + " ".join(f"{who:.3f}/{when:.3f}" for who, when in figures), flush=True)


if __name__ == "__main__":
    main()
