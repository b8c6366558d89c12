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
    baseline: str = "distance"
    """What a share is divided by (see :func:`reliance_lift`): ``distance``, ``distance_source`` or ``uniform``."""
    acting_origin: bool = False
    """Name only acting steps (kind ``message``) found on the walk, not plans or instructions."""


def failure_step(trajectory: Trajectory, config: BacktraceConfig = BacktraceConfig()) -> int | None:
    """Where the back-trace starts: the first rejected acting step, else the final claim (None: neither)."""
    rejected = first_rejected_step(trajectory) if config.from_rejection else -1
    return rejected if rejected >= 0 else claim_step(trajectory)


BASELINES = ("distance", "distance_source", "uniform")
_FIT_ROUNDS = 20


def reliance_lift(attention: np.ndarray, kept: np.ndarray, baseline: str = "distance") -> np.ndarray:
    """``lift[i, j]``: how much more than usual step j relied on the earlier step i (0 where j did not read i).
    ``baseline``: ``distance``, the trajectory's mean share at that distance back; ``distance_source``, a two-way
    log-additive fit of the shares on distance and source (how far back, and how much every step reads that
    source: an opening sink is read by all); ``uniform``, 1/k for a target with k earlier steps. Distances count
    kept steps (a one-window layout skips some)."""
    order = np.nonzero(kept)[0]
    shares = np.zeros((len(order), len(order)))
    for column in range(1, len(order)):
        row = attention[order[:column], order[column]]
        if row.sum() > 0:
            shares[:column, column] = row / row.sum()
    baseline = _baseline(shares, baseline)
    lift = np.zeros_like(attention, dtype=float)
    lift[np.ix_(order, order)] = np.divide(shares, baseline, out=np.zeros_like(shares), where=baseline > 0)
    return lift


def _baseline(shares: np.ndarray, kind: str) -> np.ndarray:
    if kind == "distance":
        return _distance_baseline(shares)
    if kind == "distance_source":
        return _distance_source_baseline(shares)
    if kind == "uniform":
        return _uniform_baseline(len(shares))
    raise ValueError(f"back-trace baseline {kind!r}: expected one of {', '.join(BASELINES)}")


def _read_pairs(shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance matrix: column - row, mask of the pairs whose target read something and whose source is earlier)."""
    size = len(shares)
    distance = np.arange(size)[None, :] - np.arange(size)[:, None]
    return distance, (shares.sum(axis=0) > 0)[None, :] & (distance > 0) & (shares > 0)


def _distance_source_baseline(shares: np.ndarray) -> np.ndarray:
    """exp(a[distance] + b[source]), fitted to the log shares by alternating means (the trajectory's own)."""
    distance, pairs = _read_pairs(shares)
    logs = np.log(np.where(pairs, shares, 1.0))
    rows = np.broadcast_to(np.arange(len(shares))[:, None], shares.shape)
    by_distance, by_source = np.zeros(len(shares)), np.zeros(len(shares))
    for _ in range(_FIT_ROUNDS):
        by_distance = _group_means(logs - by_source[rows], distance, pairs)
        by_source = _group_means(logs - by_distance[distance.clip(0)], rows, pairs)
    return np.where(pairs, np.exp(by_distance[distance.clip(0)] + by_source[rows]), 0.0)


def _group_means(values: np.ndarray, groups: np.ndarray, mask: np.ndarray) -> np.ndarray:
    size = len(values)
    totals = np.bincount(groups[mask], weights=values[mask], minlength=size)
    counts = np.bincount(groups[mask], minlength=size)
    return np.divide(totals, counts, out=np.zeros(size), where=counts > 0)


def _distance_baseline(shares: np.ndarray) -> np.ndarray:
    """The mean share at each distance back, over the columns that read something, as a matrix like ``shares``."""
    distance, pairs = _read_pairs(shares)
    baseline = np.zeros_like(shares)
    for gap in range(1, len(shares)):
        at_gap = pairs & (distance == gap)
        if at_gap.any():
            baseline[at_gap] = shares[at_gap].mean()
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
    walk = reliance_walk(reliance_lift(analysis.features.attention, kept, config.baseline), start)
    question = question_words(trajectory)
    content = distinctive_words(trajectory.steps[start].content, question)
    nameable = ("message",) if config.acting_origin else None
    sources = [i for i in walk if trajectory.steps[i].kind not in _NOT_CAUSES
               and (nameable is None or trajectory.steps[i].kind in nameable or i == start)
               and content & distinctive_words(trajectory.steps[i].content, question)]
    return min(sources, default=start)


def backtrace_ranking(analysis: Analysis, config: BacktraceConfig = BacktraceConfig(), top_k: int = 5) -> list[int]:
    """The named step first, then the feedback tracer's order (its order alone when nothing is named)."""
    order = feedback_ranking(analysis.trajectory, top_k=len(analysis.trajectory.steps))
    named = origin_step(analysis, config)
    if named is None:
        return order[:top_k]
    return ([named] + [i for i in order if i != named])[:top_k]
