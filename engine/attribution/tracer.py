"""The rule tracer (design 003, section 10.1): from the failure step(s), back-trace influence over the Soft-IDG,
mix it with the anomaly score, and name when, who and the evidence path. No learning.

``Score(v) = (λ · anomaly(v) + (1 - λ) · influence(v) + w · support(v)) / T``, the first two min-max scaled over the
candidate steps; ``support`` is the counterfactual claim support of the best candidates (see ``counterfactual``).

The temperature ``T`` makes the score a logit: the pipeline's ``joint`` who-mode sums ``exp(score)`` per agent.
Without it (scores in [0, 1]) that softmax is nearly flat, so the agent with the most steps always won, and every
ablation named the same agent and, on Hand-Crafted, never the labelled step (who .276 / when .000 whatever the
graph, anomaly or failure step).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine.attribution.schema import Trajectory

FAILURE_STRATEGIES = ("final", "max_anomaly", "first_error", "multi")
INFLUENCE_METHODS = ("reach", "ppr", "dp", "none")
_ERROR_MARKERS = re.compile(
    r"\b(error|exception|traceback|failed|failure|exitcode: [1-9]|not found|unable to|cannot|incorrect)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TracerConfig:
    failure_strategy: str = "final"
    anomaly_weight: float = 0.3
    influence: str = "ppr"
    """``ppr``: personalized PageRank on the reversed graph; ``reach``: the chance that a backward walk from the
    failure passes through the step (no decay per hop); ``dp``: strongest path; ``none``: no graph. On the chunked
    features (rule who / when without the counterfactual, Hand-Crafted / Algorithm-Generated): ppr .448 / .069 and
    .429 / .175; reach .310 / .069 and .365 / .127; no setting of influence x failure step x λ is good on both."""
    damping: float = 0.85
    exclude_kinds: tuple[str, ...] = ("query", "observation")
    """Steps of these kinds are never named as the root cause (the question, tool output)."""
    temperature: float = 0.05
    """Divides the [0, 1] score so the agent mass follows the best steps, not the step count (see above)."""
    counterfactual_weight: float = 1.0
    """Weight of the counterfactual claim support (in [0, 1] over the tested steps, which are the best
    candidates): 1 lets it reorder them. Fixed a priori, not tuned."""


def candidate_mask(trajectory: Trajectory, kept: np.ndarray, exclude_kinds: tuple[str, ...]) -> np.ndarray:
    mask = kept & np.array([step.kind not in exclude_kinds for step in trajectory.steps])
    return mask if mask.any() else kept.copy()


def failure_steps(trajectory: Trajectory, kept: np.ndarray, anomaly: np.ndarray, strategy: str) -> list[int]:
    """Where the failure shows: the last step, the most anomalous one, the first error message, or all three."""
    kept_steps = np.nonzero(kept)[0]
    final = int(kept_steps[-1])
    if strategy == "final":
        return [final]
    if strategy == "max_anomaly":
        return [int(kept_steps[np.argmax(anomaly[kept_steps])])]
    if strategy == "first_error":
        return [_first_error(trajectory, kept_steps, final)]
    if strategy == "multi":
        return sorted({final, *failure_steps(trajectory, kept, anomaly, "max_anomaly"),
                       *failure_steps(trajectory, kept, anomaly, "first_error")})
    raise ValueError(f"failure strategy {strategy!r}: expected one of {', '.join(FAILURE_STRATEGIES)}")


def _first_error(trajectory: Trajectory, kept_steps: np.ndarray, final: int) -> int:
    for index in kept_steps:
        step = trajectory.steps[index]
        if step.kind != "query" and _ERROR_MARKERS.search(step.content):
            return int(index)
    return final


def influence_ppr(weights: np.ndarray, sources: list[int], damping: float = 0.85, iterations: int = 60) -> np.ndarray:
    """Personalized PageRank that walks edges backwards from ``sources``; the restart mass is removed, so a
    node's influence is how much of the failure's dependency flow reaches it."""
    column_sums = weights.sum(axis=0)
    backward = weights / np.maximum(column_sums, 1e-12)[None, :]  # backward[i, j]: from j step back to i
    restart = np.zeros(len(weights))
    restart[sources] = 1.0 / len(sources)
    rank = restart.copy()
    for _ in range(iterations):
        rank = (1 - damping) * restart + damping * backward @ rank
    return np.clip(rank - (1 - damping) * restart, 0.0, None)


def influence_reach(weights: np.ndarray, sources: list[int]) -> np.ndarray:
    """For every step, the probability that a walk from a failure step, going back along in-edges in proportion to
    their weight until it can go no further, passes through it (the failure steps themselves get 0)."""
    backward = weights / np.maximum(weights.sum(axis=0), 1e-12)[None, :]
    reach = np.zeros(len(weights))
    reach[sources] = 1.0 / len(sources)
    for node in range(len(weights) - 1, -1, -1):  # edges go forward in time, so one backward sweep suffices
        reach[:node] += reach[node] * backward[:node, node]
    reach[sources] = 0.0
    return reach


def path_strength(weights: np.ndarray, sources: list[int]) -> np.ndarray:
    """DP: for every node, the largest product of edge weights along a path from it to a failure step."""
    strength = np.zeros(len(weights))
    strength[sources] = 1.0
    for node in range(len(weights) - 1, -1, -1):
        reach = weights[node] * strength
        strength[node] = max(strength[node], reach.max(initial=0.0))
    return strength


def evidence_path(weights: np.ndarray, root: int, sources: list[int]) -> list[int]:
    """The strongest chain root -> ... -> failure step (the failure step alone when root is one)."""
    strength = path_strength(weights, sources)
    path = [root]
    while path[-1] not in sources:
        node = path[-1]
        reach = weights[node] * strength
        if reach.max(initial=0.0) <= 0:
            later = [s for s in sources if s > node]
            path.append(later[0] if later else max(sources))
            break
        path.append(int(np.argmax(reach)))
    return path


def influence(weights: np.ndarray, sources: list[int], config: TracerConfig) -> np.ndarray:
    if config.influence == "reach":
        return influence_reach(weights, sources)
    if config.influence == "ppr":
        return influence_ppr(weights, sources, config.damping)
    if config.influence == "dp":
        strength = path_strength(weights, sources)
        strength[sources] = 0.0
        return strength
    if config.influence == "none":
        return np.zeros(len(weights))
    raise ValueError(f"influence {config.influence!r}: expected one of {', '.join(INFLUENCE_METHODS)}")


def rule_scores(influence_values: np.ndarray, anomaly: np.ndarray, candidates: np.ndarray, weight: float,
                temperature: float = 1.0, support: np.ndarray | None = None, support_weight: float = 0.0
                ) -> np.ndarray:
    """``support``: counterfactual evidence in [0, 1] (0 where not measured), added with ``support_weight``."""
    if temperature <= 0:
        raise ValueError(f"rule tracer temperature {temperature}: expected > 0")
    score = weight * minmax(anomaly, candidates) + (1 - weight) * minmax(influence_values, candidates)
    if support is not None:
        score = score + support_weight * support
    return np.where(candidates, score / temperature, -np.inf)


def minmax(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    selected = values[mask]
    if not len(selected) or np.ptp(selected) < 1e-12:
        return np.zeros_like(values, dtype=float)
    return (values - selected.min()) / np.ptp(selected)
