"""What the pipeline knows about one trajectory before anything is learned, and the shape of a per-step scorer.

It sits below the pipeline, the learned tracer and its features, so that each of them can read an analysis
without importing the others.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.attribution.counterfactual import ClaimEffects
from engine.attribution.detector import AnomalyScores
from engine.attribution.features import StepFeatures
from engine.attribution.schema import Trajectory


@dataclass(frozen=True)
class Analysis:
    trajectory: Trajectory
    features: StepFeatures
    anomaly: AnomalyScores
    graph: np.ndarray
    failures: list[int]
    influence: np.ndarray
    candidates: np.ndarray
    rule_score: np.ndarray
    effects: ClaimEffects
    """Counterfactual evidence on the final claim (none tested when the pipeline ran without it)."""


StepScorer = Callable[[Analysis], np.ndarray]
"""One score per step of the analysed trajectory, higher = more likely the root cause (-inf: never)."""


def rule_scorer(analysis: Analysis) -> np.ndarray:
    """The rule tracer's score: influence from the failure mixed with anomaly (no learning)."""
    return analysis.rule_score
