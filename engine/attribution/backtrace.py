"""The rejection back-trace: the Soft-IDG tracer started where the run itself says it went wrong. No learning,
nothing fitted on labelled data.

1. **Failure step** ``f``: the first acting step the next other speaker rejects
   (:func:`~engine.attribution.claim_tracer.first_rejected_step`); with none, the final claim step.
2. **Reliance** (:func:`reliance_lift`): step j's attention over its visible earlier steps, as shares (each
   target's row sums to 1), divided by the mean share that the trajectory's steps put on a step at the same
   distance back. Raw attention follows recency (the previous step holds the largest share for 80% of targets on
   Who&When) and the opening steps are sinks every step reads, so the strongest-in-edge path always ran back to
   step 0; the lift asks whether j relied on i more than a step usually relies on one that far back. The
   baseline is the trajectory's own, nothing fitted.
3. **Walk** (:func:`reliance_walk`): from ``f``, to the earlier step with the largest lift while that lift is above
   1 (relied on more than usual).
4. **Named**: the earliest agent step on the walk that says at least one distinctive word ``f`` says (it
   introduced content the failure step carries), else ``f``; its agent is ``who``. The feedback tracer's order
   follows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.attribution.analysis import Analysis
from engine.attribution.claim_tracer import feedback_ranking, first_rejected_step
from engine.attribution.counterfactual import claim_step
from engine.attribution.node_features import distinctive_words, question_words
from engine.attribution.schema import Trajectory

_NOT_CAUSES = ("query", "observation")


@dataclass(frozen=True)
class BacktraceConfig:
    from_rejection: bool = True
    """Start from the first rejected acting step (False: always from the final claim)."""
    distance_baseline: bool = True
    """Divide each share by the trajectory's mean share at that distance (False: by the uniform share 1/k)."""


def failure_step(trajectory: Trajectory, config: BacktraceConfig = BacktraceConfig()) -> int | None:
    """Where the back-trace starts: the first rejected acting step, else the final claim (None: neither)."""
    rejected = first_rejected_step(trajectory) if config.from_rejection else -1
    return rejected if rejected >= 0 else claim_step(trajectory)


def reliance_lift(attention: np.ndarray, kept: np.ndarray, distance_baseline: bool = True) -> np.ndarray:
    """``lift[i, j]``: how much more than usual step j relied on the earlier step i (0 where j did not read i).
    Distances count kept steps (a one-window layout skips some)."""
    order = np.nonzero(kept)[0]
    shares = np.zeros((len(order), len(order)))
    for column in range(1, len(order)):
        row = attention[order[:column], order[column]]
        if row.sum() > 0:
            shares[:column, column] = row / row.sum()
    baseline = _distance_baseline(shares) if distance_baseline else _uniform_baseline(len(order))
    lift = np.zeros_like(attention, dtype=float)
    lift[np.ix_(order, order)] = np.divide(shares, baseline, out=np.zeros_like(shares), where=baseline > 0)
    return lift


def _distance_baseline(shares: np.ndarray) -> np.ndarray:
    """The mean share at each distance back, over the columns that read something, as a matrix like ``shares``."""
    size = len(shares)
    distance = np.subtract.outer(np.arange(size), np.arange(size)) * -1  # column - row
    reads = (shares.sum(axis=0) > 0)[None, :] & (distance > 0)
    baseline = np.zeros_like(shares)
    for gap in range(1, size):
        pairs = reads & (distance == gap)
        if pairs.any():
            baseline[pairs] = shares[pairs].mean()
    return baseline


def _uniform_baseline(size: int) -> np.ndarray:
    """1/k for a target with k earlier steps: the share of a step that relies on all of them alike."""
    columns = np.arange(size)
    return np.triu(np.ones((size, size)), 1) / np.maximum(columns, 1)[None, :]


def reliance_walk(lift: np.ndarray, start: int) -> list[int]:
    """From ``start`` back to the earlier step with the largest lift while it is above 1 (``start`` first)."""
    walk = [start]
    while walk[-1] > 0 and lift[: walk[-1], walk[-1]].max(initial=0.0) > 1.0:
        walk.append(int(np.argmax(lift[: walk[-1], walk[-1]])))
    return walk


def origin_step(analysis: Analysis, config: BacktraceConfig = BacktraceConfig()) -> int | None:
    """The named step: the earliest agent step on the walk from the failure step sharing a distinctive word with
    it, else the failure step; None when the run has neither a rejected step nor a claim, or the SLM did not read
    the failure step."""
    trajectory, kept = analysis.trajectory, analysis.features.kept
    start = failure_step(trajectory, config)
    if start is None or not kept[start]:
        return None
    walk = reliance_walk(reliance_lift(analysis.features.attention, kept, config.distance_baseline), start)
    question = question_words(trajectory)
    content = distinctive_words(trajectory.steps[start].content, question)
    sources = [i for i in walk if trajectory.steps[i].kind not in _NOT_CAUSES
               and content & distinctive_words(trajectory.steps[i].content, question)]
    return min(sources, default=start)


def backtrace_ranking(analysis: Analysis, config: BacktraceConfig = BacktraceConfig(), top_k: int = 5) -> list[int]:
    """The named step first, then the feedback tracer's order (its order alone when nothing is named)."""
    order = feedback_ranking(analysis.trajectory, top_k=len(analysis.trajectory.steps))
    named = origin_step(analysis, config)
    if named is None:
        return order[:top_k]
    return ([named] + [i for i in order if i != named])[:top_k]
