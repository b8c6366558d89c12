"""Evaluation on labelled trajectories: baselines, the rule tracer, the learned tracer, and ablations, under three
protocols that print the same table:

* :func:`evaluate` — k-fold cross-validation within one folder (per subset);
* :func:`evaluate_held_out` — train on one folder, score on another (the baselines' priors come from the training
  folder, everything is scored on the test folder);
* :func:`evaluate_saved` — score an already trained tracer on a labelled folder.

Every learned figure comes with ``majority_share``: the share of its predictions that name the training set's most
common culprit, so a tracer that only learned the prior is visible.

Progress is reported through a plain callback ``progress(done, total, label)`` so the engine stays UI-free.
"""
from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Callable

import numpy as np

from engine.attribution.analysis import Analysis
from engine.attribution.claim_tracer import claim_ranking, feedback_ranking
from engine.attribution.features import extract_features
from engine.attribution.learned import LearnedConfig, fit, score_steps
from engine.attribution.node_features import PREVIOUS_DEFAULT_GROUPS
from engine.attribution.pipeline import AttributionConfig, analyse, analyse_with_effects, attribution_from_scores
from engine.attribution.schema import Trajectory
from engine.attribution.shift_tracer import shift_ranking
from engine.attribution.slm import DEFAULT_MODEL
from engine.evaluation.baselines import all_baselines
from engine.evaluation.metrics import Gold, Prediction, who_when_scores
from engine.parallel import ordered_map

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class EvalConfig:
    model_name: str = DEFAULT_MODEL
    attribution: AttributionConfig = field(default_factory=AttributionConfig)
    learned: LearnedConfig = field(default_factory=LearnedConfig)
    folds: int = 5
    seeds: tuple[int, ...] = (0, 1, 2)
    ablations: bool = True
    workers: int = 1  # feature extraction in N local processes
    scheduler: str | None = None  # ... or on this Dask cluster (tcp://HOST:PORT)


def extract_all(
    trajectories: list[Trajectory], config: EvalConfig, progress: Progress | None = None
) -> tuple[list[Analysis], list[float]]:
    """Every trajectory analysed from its white-box features and counterfactual effects (both cached on disk), and
    the seconds each one took.

    With ``config.workers`` > 1 or a Dask ``config.scheduler`` the trajectories are spread over processes (each
    loads the SLM once); results come back in order, so every figure is the serial one."""
    analyses, seconds = [], []
    job = partial(_extract_one, config.model_name, config.attribution)
    results = ordered_map(job, trajectories, config.workers, config.scheduler)
    for done, (trajectory, (analysis, elapsed)) in enumerate(zip(trajectories, results), start=1):
        analyses.append(analysis)
        seconds.append(elapsed)
        if progress:
            progress(done, len(trajectories), trajectory.id)
    return analyses, seconds


def _extract_one(model_name: str, attribution: AttributionConfig, trajectory: Trajectory) -> tuple[Analysis, float]:
    started = time.perf_counter()
    features = extract_features(trajectory, model_name, attribution.features)
    analysis = analyse_with_effects(trajectory, features, model_name, attribution)
    return analysis, time.perf_counter() - started


def fit_all(trajectories: list[Trajectory], config: EvalConfig):
    """A learned tracer trained on every labelled trajectory (the one to ship, once k-fold has scored the method)."""
    return fit(_labelled_analyses(trajectories, config), config.learned)


def score_tracer(trajectories: list[Trajectory], tracer, config: EvalConfig) -> dict:
    """who / when of an already trained tracer on labelled trajectories it never saw (no cross-validation)."""
    analyses = _labelled_analyses(trajectories, config)
    predictions = [_prediction(a, score_steps(tracer, a), config.attribution) for a in analyses]
    return who_when_scores(predictions, [gold_of(a.trajectory) for a in analyses])


def _labelled_analyses(trajectories: list[Trajectory], config: EvalConfig) -> list[Analysis]:
    labelled = [t for t in trajectories if t.label and t.label.when is not None]
    return extract_all(labelled, config)[0]


def make_folds(count: int, folds: int, seed: int) -> list[list[int]]:
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return [sorted(order[i::folds]) for i in range(min(folds, count))]


def rule_predictions(analyses: list[Analysis], config: AttributionConfig) -> list[Prediction]:
    return [_prediction(analysis, analysis.rule_score, config) for analysis in analyses]


TEXT_TRACERS = {"claim_tracer": claim_ranking, "feedback_tracer": feedback_ranking}
"""The unsupervised tracers that read only the text (nothing fitted): report key -> step ranking."""


def text_tracer_predictions(trajectories: list[Trajectory],
                            ranking: Callable[[Trajectory], list[int]] = claim_ranking) -> list[Prediction]:
    """A text tracer's predictions (the claim tracer's by default): when = its best step, who = that step's agent."""
    return _ranked_predictions(trajectories, [ranking(trajectory) for trajectory in trajectories])


def shift_tracer_predictions(analyses: list[Analysis]) -> list[Prediction]:
    """The shift tracer's predictions (:mod:`engine.attribution.shift_tracer`; nothing fitted)."""
    return _ranked_predictions([a.trajectory for a in analyses], [shift_ranking(a) for a in analyses])


def _ranked_predictions(trajectories: list[Trajectory], rankings: list[list[int]]) -> list[Prediction]:
    return [Prediction(trajectory.id, trajectory.steps[ranked[0]].agent, ranked[0], ranked)
            for trajectory, ranked in zip(trajectories, rankings)]


def _unsupervised_scores(analyses: list[Analysis], golds: list[Gold], majorities: list[str]) -> dict:
    """The tracers with nothing fitted: the text tracers and the shift tracer."""
    trajectories = [a.trajectory for a in analyses]
    scores = {name: scores_with_prior(text_tracer_predictions(trajectories, ranking), golds, majorities)
              for name, ranking in TEXT_TRACERS.items()}
    return {**scores, "shift_tracer": scores_with_prior(shift_tracer_predictions(analyses), golds, majorities)}


def learned_predictions(
    analyses: list[Analysis], attribution: AttributionConfig, learned: LearnedConfig,
    folds: int, seed: int, with_ground_truth: bool,
) -> list[Prediction]:
    """k-fold cross-validated predictions: each trajectory is scored by a model that never saw it."""
    predictions: list[Prediction | None] = [None] * len(analyses)
    for test in make_folds(len(analyses), folds, seed):
        train = [analyses[i] for i in range(len(analyses)) if i not in set(test)]
        tracer = fit(train, replace(learned, seed=seed), with_ground_truth)
        for i in test:
            predictions[i] = _prediction(analyses[i], score_steps(tracer, analyses[i], with_ground_truth), attribution)
    return predictions


def evaluate_subset(analyses: list[Analysis], config: EvalConfig) -> dict:
    trajectories = [a.trajectory for a in analyses]
    golds = [gold_of(t) for t in trajectories]
    majorities = _fold_majorities(trajectories, config.folds, config.seeds[0])
    report = {
        "n": len(trajectories),
        "labelled_steps_encoded": labelled_steps_encoded(analyses),
        "baselines": {name: scores_with_prior(p, golds, majorities)
                      for name, p in _kfold_baselines(trajectories, golds, config).items()},
        "rule_tracer": scores_with_prior(rule_predictions(analyses, config.attribution), golds, majorities),
        **_unsupervised_scores(analyses, golds, majorities),
        "learned_tracer": {
            mode: _over_seeds(analyses, golds, config, config.learned, with_gt)
            for mode, with_gt in (("without_gt", False), ("with_gt", True))
        },
    }
    if config.ablations:
        report["ablations"] = _ablations(analyses, golds, config)
    return report


def _kfold_baselines(trajectories: list[Trajectory], golds: list[Gold], config: EvalConfig) -> dict:
    """Each baseline's predictions, its priors (the majority agent) taken from the other folds."""
    seed = config.seeds[0]
    predictions: dict[str, list[Prediction | None]] = {}
    for test in make_folds(len(trajectories), config.folds, seed):
        train = [trajectories[i] for i in range(len(trajectories)) if i not in set(test)]
        for name, fold_predictions in all_baselines(train, [trajectories[i] for i in test], seed).items():
            slots = predictions.setdefault(name, [None] * len(trajectories))
            for i, prediction in zip(test, fold_predictions):
                slots[i] = prediction
    return predictions


def _over_seeds(analyses: list[Analysis], golds: list[Gold], config: EvalConfig,
                learned: LearnedConfig, with_gt: bool) -> dict:
    trajectories = [a.trajectory for a in analyses]
    runs = [scores_with_prior(learned_predictions(analyses, config.attribution, learned, config.folds, seed, with_gt),
                               golds, _fold_majorities(trajectories, config.folds, seed)) for seed in config.seeds]
    return _mean_over_seeds(runs, config.seeds)


def _ablations(analyses, golds, config: EvalConfig) -> dict:
    report = _rule_ablations(analyses, golds, config)
    report.update(_learned_ablations(analyses, golds, config))
    return report


def _rule_ablations(analyses, golds, config: EvalConfig) -> dict:
    """Rule tracer variants over the same features; each reuses the default's counterfactual test (of the
    default's best candidates) rather than testing its own."""
    base = config.attribution
    rule_variants = {
        "rule: no graph (anomaly only)": replace(base, tracer=replace(base.tracer, influence="none", anomaly_weight=1.0)),
        "rule: graph only (no anomaly)": replace(base, tracer=replace(base.tracer, anomaly_weight=0.0)),
        "rule: no prototype": replace(base, beta=0.0),
        "rule: no reconstruction": replace(base, alpha=0.0),
        "rule: attention-only graph": replace(base, graph=replace(base.graph, citation_boost=0.0)),
        "rule: citation boost x3": replace(base, graph=replace(base.graph, citation_boost=3 * max(1.0, base.graph.citation_boost))),
        "rule: flat agent mass (temperature 1)": replace(base, tracer=replace(base.tracer, temperature=1.0)),
        "rule: who = agent of the best step": replace(base, who_mode="step"),
        "rule: dp influence": replace(base, tracer=replace(base.tracer, influence="dp")),
        **{f"rule: failure step = {s}": replace(base, tracer=replace(base.tracer, failure_strategy=s))
           for s in ("final", "max_anomaly", "first_error", "multi")},
        "rule: no counterfactual support": replace(base, tracer=replace(base.tracer, counterfactual_weight=0.0)),
        "rule: no renormalisation": replace(base, graph=replace(base.graph, renorm="none")),
        "rule: no pruning (top_m=all)": replace(base, graph=replace(base.graph, top_m=10_000)),
    }
    report = {}
    for name, variant in rule_variants.items():
        variant_analyses = [analyse(a.trajectory, a.features, variant, a.effects) for a in analyses]
        report[name] = who_when_scores(rule_predictions(variant_analyses, variant), golds)
    return report


def _learned_ablations(analyses, golds, config: EvalConfig) -> dict:
    report = {}
    groups = config.learned.groups
    learned_variants = {
        "learned: position only (structural prior)": ("position",),
        "learned: previous default (position, text, SLM z-scores, ground truth)": PREVIOUS_DEFAULT_GROUPS,
        "learned: + SLM z-score features": _with(groups, "slm"),
        "learned: + rank-within-trajectory features": _with(groups, "rank"),
        "learned: + counterfactual features": _with(groups, "counterfactual"),
        "learned: without feedback features": _without(groups, "feedback"),
        "learned: without ranks within the agent": _without(groups, "own_rank"),
        "learned: without novelty features": _without(groups, "novelty"),
        "learned: without SLM features": _without(groups, "slm", "rank", "counterfactual", "own_rank"),
        "learned: without text features": _without(groups, "text"),
        "learned: SLM + counterfactual features only": ("slm", "counterfactual"),
    }
    for name, variant_groups in learned_variants.items():
        variant = replace(config.learned, groups=variant_groups)
        report[name + " [without_gt]"] = _over_seeds(analyses, golds, config, variant, False)
    other = "factorised (agent scorer, then steps)" if not config.learned.factorised else "step-level ranking"
    flipped = replace(config.learned, factorised=not config.learned.factorised)
    report[f"learned: {other} [without_gt]"] = _over_seeds(analyses, golds, config, flipped, False)
    prior_free = replace(config.learned, factorised=False,
                         groups=_with(_without(groups, "position"), "rank", "counterfactual"))
    report["learned: step-level, no position, + rank + counterfactual [without_gt]"] = _over_seeds(
        analyses, golds, config, prior_free, False)
    for model_type in ("linear", "mlp", "gnn"):
        if model_type != config.learned.model_type:
            variant = replace(config.learned, model_type=model_type)
            report[f"learned: model={model_type} [without_gt]"] = _over_seeds(analyses, golds, config, variant, False)
    return report


def _with(groups: tuple[str, ...], *added: str) -> tuple[str, ...]:
    return groups + tuple(group for group in added if group not in groups)


def _without(groups: tuple[str, ...], *dropped: str) -> tuple[str, ...]:
    return tuple(group for group in groups if group not in dropped)


def labelled_steps_encoded(analyses: list[Analysis]) -> int:
    """How many labelled mistake steps the SLM read at all (the one-pass layout sampled some away)."""
    return sum(bool(a.features.kept[a.trajectory.label.when]) for a in analyses)


def majority_agent_of(trajectories: list[Trajectory]) -> str:
    """The most common labelled culprit (ties: the first seen)."""
    counts = Counter((t.label.who or "") for t in trajectories if t.label and t.label.who)
    return counts.most_common(1)[0][0] if counts else ""


def majority_share(predictions: list[Prediction], majorities: list[str]) -> float:
    """Share of predictions naming their training set's majority agent (case-insensitive)."""
    if not predictions:
        return 0.0
    hits = sum(p.who.strip().lower() == m.strip().lower() for p, m in zip(predictions, majorities))
    return round(hits / len(predictions), 4)


def scores_with_prior(predictions: list[Prediction], golds: list[Gold], majorities: list[str]) -> dict:
    return {**who_when_scores(predictions, golds), "majority_share": majority_share(predictions, majorities)}


def _fold_majorities(trajectories: list[Trajectory], folds: int, seed: int) -> list[str]:
    """For every trajectory, the majority agent of the k-fold training part that scored it."""
    majorities = [""] * len(trajectories)
    for test in make_folds(len(trajectories), folds, seed):
        majority = majority_agent_of([trajectories[i] for i in range(len(trajectories)) if i not in set(test)])
        for i in test:
            majorities[i] = majority
    return majorities


def evaluate_held_out(train: list[Trajectory], test: list[Trajectory], config: EvalConfig = EvalConfig(),
                      progress: Progress | None = None) -> dict:
    """Fit on ``train``, score on ``test``: baselines (their priors from ``train``), the rule tracer, the learned
    tracer with and without the ground truth, and the rule ablations, all on ``test``."""
    train, test = _labelled(train), _labelled(test)
    if not train or not test:
        raise ValueError(f"need labelled trajectories on both sides (train {len(train)}, test {len(test)})")
    started = time.perf_counter()
    train_analyses, _ = extract_all(train, config, progress)
    test_analyses, seconds = extract_all(test, config, progress)
    golds = [gold_of(t) for t in test]
    majorities = [majority_agent_of(train)] * len(test)
    learned = {mode: scores_over_seeds(held_out_learned(train_analyses, test_analyses, config, with_gt), golds,
                                       majorities, config.seeds)
               for mode, with_gt in (("without_gt", False), ("with_gt", True))}
    subset = {
        "n": len(test),
        "labelled_steps_encoded": labelled_steps_encoded(test_analyses),
        "n_train": len(train),
        "train_majority_agent": majorities[0],
        "baselines": {name: scores_with_prior(p, golds, majorities)
                      for name, p in all_baselines(train, test, config.seeds[0]).items()},
        "rule_tracer": scores_with_prior(rule_predictions(test_analyses, config.attribution), golds, majorities),
        **_unsupervised_scores(test_analyses, golds, majorities),
        "learned_tracer": learned,
    }
    if config.ablations:
        subset["ablations"] = _rule_ablations(test_analyses, golds, config)
    return _report("train/test", config, {"test": subset}, test, seconds, started)


def held_out_learned(train: list[Analysis], test: list[Analysis], config: EvalConfig,
                     with_gt: bool = False) -> list[list[Prediction]]:
    """The learned tracer fitted on ``train`` (once per seed of ``config.seeds``), its predictions on ``test``."""
    runs = []
    for seed in config.seeds:
        tracer = fit(train, replace(config.learned, seed=seed), with_gt)
        runs.append([_prediction(a, score_steps(tracer, a, with_gt), config.attribution) for a in test])
    return runs


def scores_over_seeds(runs: list[list[Prediction]], golds: list[Gold], majorities: list[str], seeds) -> dict:
    """who / when (and the share naming the training majority) of each seed's predictions, averaged."""
    return _mean_over_seeds([scores_with_prior(predictions, golds, majorities) for predictions in runs], seeds)


def evaluate_saved(tracer, test: list[Trajectory], config: EvalConfig = EvalConfig(), trained_on: list[str] = (),
                   progress: Progress | None = None) -> dict:
    """Score an already trained tracer on labelled trajectories; baselines and the rule tracer beside it.
    ``trained_on``: the ids the tracer was fitted on (its manifest); those trajectories are counted in
    ``in_sample`` and the figures say so. The majority prior is the test folder's own (the training labels are not
    known here), so ``majority_share`` reads as "how often it names the test folder's most common culprit"."""
    test = _labelled(test)
    if not test:
        raise ValueError("no labelled trajectory to score")
    started = time.perf_counter()
    analyses, seconds = extract_all(test, config, progress)
    golds = [gold_of(t) for t in test]
    majorities = [majority_agent_of(test)] * len(test)
    with_gt = {}
    for mode, flag in (("without_gt", False), ("with_gt", True)):
        predictions = [_prediction(a, score_steps(tracer, a, flag), config.attribution) for a in analyses]
        with_gt[mode] = scores_with_prior(predictions, golds, majorities)
    subset = {
        "n": len(test),
        "labelled_steps_encoded": labelled_steps_encoded(analyses),
        "in_sample": sorted(set(trained_on) & {t.id for t in test}),
        "baselines": {name: scores_with_prior(p, golds, majorities)
                      for name, p in _kfold_baselines(test, golds, config).items()},
        "rule_tracer": scores_with_prior(rule_predictions(analyses, config.attribution), golds, majorities),
        **_unsupervised_scores(analyses, golds, majorities),
        "learned_tracer": with_gt,
    }
    return _report("saved tracer", config, {"test": subset}, test, seconds, started)


def _report(protocol: str, config: EvalConfig, subsets: dict, trajectories: list[Trajectory],
            seconds: list[float], started: float) -> dict:
    return {
        "protocol": protocol, "model": config.model_name, "folds": config.folds, "seeds": list(config.seeds),
        "subsets": subsets,
        "timing": {
            "trajectories": len(trajectories),
            "feature_seconds_total": round(float(sum(seconds)), 2),
            "feature_seconds_median": round(float(np.median(seconds)), 3) if seconds else 0.0,
            "evaluation_seconds_total": round(time.perf_counter() - started, 2),
        },
    }


def _labelled(trajectories: list[Trajectory]) -> list[Trajectory]:
    return [t for t in trajectories if t.label and t.label.when is not None]


def _mean_over_seeds(runs: list[dict], seeds) -> dict:
    summary = {key: round(float(np.mean([r[key] for r in runs])), 4) for key in runs[0]}
    summary["who_std"] = round(float(np.std([r["who"] for r in runs])), 4)
    summary["when_std"] = round(float(np.std([r["when"] for r in runs])), 4)
    summary["seeds"] = list(seeds)
    return summary


def gold_of(trajectory: Trajectory) -> Gold:
    return Gold(trajectory.label.who or "", int(trajectory.label.when))


def _prediction(analysis: Analysis, scores: np.ndarray, config: AttributionConfig) -> Prediction:
    attribution = attribution_from_scores(analysis, scores, config)
    ranked = [row["step"] for row in attribution.ranking]
    return Prediction(attribution.trajectory_id, attribution.who, attribution.when, ranked)


def evaluate(trajectories: list[Trajectory], config: EvalConfig = EvalConfig(), progress: Progress | None = None) -> dict:
    """The full report: per subset (Who&When ``meta.subset``, else "all"), plus timing."""
    labelled = [t for t in trajectories if t.label and t.label.when is not None]
    started = time.perf_counter()
    analyses, seconds = extract_all(labelled, config, progress)
    extraction = time.perf_counter() - started
    subsets: dict[str, list[int]] = {}
    for i, trajectory in enumerate(labelled):
        subsets.setdefault(trajectory.meta.get("subset", "all"), []).append(i)
    report = {"protocol": "k-fold", "model": config.model_name, "folds": config.folds, "seeds": list(config.seeds),
              "subsets": {}}
    for name, indices in sorted(subsets.items()):
        report["subsets"][name] = evaluate_subset([analyses[i] for i in indices], config)
    report["timing"] = {
        "trajectories": len(labelled),
        "feature_seconds_total": round(extraction, 2),
        "feature_seconds_median": round(float(np.median(seconds)), 3) if seconds else 0.0,
        "evaluation_seconds_total": round(time.perf_counter() - started, 2),
    }
    return report
