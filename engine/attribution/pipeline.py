"""One trajectory end to end: features -> anomaly -> Soft-IDG -> influence -> ranking -> who / when / path.

:func:`analyse` computes everything that does not depend on a trained model (the rule tracer's parts);
:func:`attribution_from_scores` turns any per-step score (rule or learned) into an :class:`Attribution`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine.attribution.analysis import Analysis, StepScorer, rule_scorer
from engine.attribution.counterfactual import ClaimEffects, CounterfactualConfig, claim_effects, claim_support
from engine.attribution.detector import anomaly_scores
from engine.attribution.features import StepFeatures, extract_features
from engine.attribution.graph import GraphConfig, build_soft_idg
from engine.attribution.layout import FeatureConfig
from engine.attribution.schema import Trajectory
from engine.attribution.slm import DEFAULT_MODEL
from engine.attribution.tracer import (
    TracerConfig,
    candidate_mask,
    evidence_path,
    failure_steps,
    influence,
    rule_scores,
)

WHO_MODES = ("step", "agent_sum", "joint")


@dataclass(frozen=True)
class AttributionConfig:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    tracer: TracerConfig = field(default_factory=TracerConfig)
    alpha: float = 1.0
    """Weight of next-step reconstruction in the anomaly score (0 = ablated)."""
    beta: float = 1.0
    """Weight of the prototype distance in the anomaly score (0 = ablated)."""
    who_mode: str = "joint"
    """``step``: the agent of the best step; ``agent_sum``: the agent with the most score mass (softmax over
    steps); ``joint``: that agent, and when = that agent's best step (who and when always agree)."""
    top_k: int = 5
    counterfactual: CounterfactualConfig = field(default_factory=CounterfactualConfig)


@dataclass(frozen=True)
class Attribution:
    trajectory_id: str
    who: str
    when: int
    ranking: list[dict[str, Any]]
    evidence_path: list[int]
    failure_steps: list[int]
    scores: np.ndarray
    parts: dict[str, np.ndarray]
    graph: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "trajectory": self.trajectory_id,
            "who": self.who,
            "when": self.when,
            "top_steps": self.ranking,
            "evidence_path": self.evidence_path,
            "failure_steps": self.failure_steps,
        }


def analyse(trajectory: Trajectory, features: StepFeatures, config: AttributionConfig = AttributionConfig(),
            effects: ClaimEffects | None = None) -> Analysis:
    """Everything but the learned part; ``effects``: counterfactual evidence (see :func:`analyse_with_effects`)."""
    effects = effects or ClaimEffects.none(len(trajectory.steps))
    graph = build_soft_idg(trajectory, features.attention, features.kept, features.token_counts, config.graph)
    anomaly = anomaly_scores(features.embeddings, graph, features.kept, config.alpha, config.beta)
    failures = failure_steps(trajectory, features.kept, anomaly.total, config.tracer.failure_strategy)
    influence_values = influence(graph, failures, config.tracer)
    candidates = candidate_mask(trajectory, features.kept, config.tracer.exclude_kinds)
    score = _rule_score(influence_values, anomaly.total, candidates, effects, config.tracer)
    return Analysis(trajectory, features, anomaly, graph, failures, influence_values, candidates, score, effects)


def _rule_score(influence_values: np.ndarray, anomaly: np.ndarray, candidates: np.ndarray, effects: ClaimEffects,
                tracer: TracerConfig) -> np.ndarray:
    return rule_scores(influence_values, anomaly, candidates, tracer.anomaly_weight, tracer.temperature,
                       claim_support(effects), tracer.counterfactual_weight)


def tested_steps(analysis: Analysis, count: int) -> list[int]:
    """The ``count`` best candidates of the rule tracer: the steps whose removal is tested."""
    order = np.argsort(-analysis.rule_score, kind="stable")
    return [int(i) for i in order if analysis.candidates[i]][:count]


def analyse_with_effects(trajectory: Trajectory, features: StepFeatures, model_name: str = DEFAULT_MODEL,
                         config: AttributionConfig = AttributionConfig(), use_cache: bool = True) -> Analysis:
    """:func:`analyse`, then the counterfactual test of its ``counterfactual.top_n`` best candidates, folded back
    into the rule score and the learned tracer's features."""
    analysis = analyse(trajectory, features, config)
    if not config.counterfactual.top_n:
        return analysis
    tested = tested_steps(analysis, config.counterfactual.top_n)
    effects = claim_effects(trajectory, tested, model_name, config.counterfactual, use_cache)
    score = _rule_score(analysis.influence, analysis.anomaly.total, analysis.candidates, effects, config.tracer)
    return replace(analysis, rule_score=score, effects=effects)  # the graph and anomaly do not depend on effects


def attribution_from_scores(
    analysis: Analysis, scores: np.ndarray, config: AttributionConfig = AttributionConfig()
) -> Attribution:
    steps = analysis.trajectory.steps
    order = [int(i) for i in np.argsort(-scores, kind="stable") if analysis.candidates[i]]
    who = _who(analysis, scores, order[0], config.who_mode)
    when = next(i for i in order if steps[i].agent == who) if config.who_mode == "joint" else order[0]
    ranking = [{"step": i, "agent": steps[i].agent, "score": round(float(scores[i]), 4)} for i in order[: config.top_k]]
    parts = {
        "anomaly": analysis.anomaly.total,
        "reconstruction": analysis.anomaly.reconstruction,
        "prototype_distance": analysis.anomaly.prototype,
        "influence": analysis.influence,
        "rule_score": analysis.rule_score,
        "score": scores,
    }
    return Attribution(
        trajectory_id=analysis.trajectory.id,
        who=who,
        when=when,
        ranking=ranking,
        evidence_path=evidence_path(analysis.graph, when, analysis.failures),
        failure_steps=analysis.failures,
        scores=scores,
        parts=parts,
        graph=analysis.graph,
    )


def trace(
    trajectory: Trajectory,
    model_name: str = DEFAULT_MODEL,
    config: AttributionConfig = AttributionConfig(),
    scorer: StepScorer = rule_scorer,
) -> Attribution:
    """Attribute one trajectory; ``scorer`` ranks its steps (the rule tracer's, or a learned tracer's
    :func:`~engine.attribution.learned.step_scorer`)."""
    features = extract_features(trajectory, model_name, config.features)
    analysis = analyse_with_effects(trajectory, features, model_name, config)
    return attribution_from_scores(analysis, scorer(analysis), config)


def _who(analysis: Analysis, scores: np.ndarray, when: int, mode: str) -> str:
    steps = analysis.trajectory.steps
    if mode == "step":
        return steps[when].agent
    if mode in ("agent_sum", "joint"):
        candidates = np.nonzero(analysis.candidates)[0]
        shifted = np.exp(scores[candidates] - scores[candidates].max())
        mass: dict[str, float] = {}
        for index, weight in zip(candidates, shifted):
            mass[steps[index].agent] = mass.get(steps[index].agent, 0.0) + float(weight)
        return max(mass, key=mass.get)
    raise ValueError(f"who mode {mode!r}: expected one of {', '.join(WHO_MODES)}")
