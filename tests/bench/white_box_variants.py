"""The white-box unsupervised variants tried in session 10 (issue 13 item 2), scored by
``python -m tests.bench.unsupervised_variants``: the Soft-IDG walked from the run's own feedback, the claim's
reliance set, and the counterfactual tests (removal of a few steps; the claim read after every prefix). Each
variant's constants were stated (in a commit) before it was scored; the comments in :data:`WHITE_BOX_VARIANTS`
say what had been scored when it was stated. None reached both unsupervised targets (README).

The rejection back-trace:
1. **Failure step** ``f``: the first acting step the next other speaker rejects; with none, the final claim step.
2. **Reliance** (:func:`reliance_lift`): step j's attention over its visible earlier steps as shares, divided by
   a baseline: the trajectory's mean share at that distance back, a two-way log-additive fit on distance and
   source, or the uniform 1/k.
3. **Walk**: from ``f`` to the earlier step with the largest lift while it is above 1.
4. **Named**: the earliest agent step on the walk that says a distinctive word ``f`` says, else ``f``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.attribution.analysis import Analysis
from engine.attribution.claim_tracer import feedback_ranking
from engine.attribution.counterfactual import claim_effects, claim_step
from engine.attribution.node_features import (
    distinctive_words, final_claim_shares, first_claimer, first_rejected_step, question_words, rejected_steps,
)
from engine.attribution.schema import Trajectory
from tests.bench.claim_jumps import claim_jumps


def _rejected_acting(trajectory: Trajectory) -> list[int]:
    """The acting steps (an agent's own turn) whose reply rejects them, in order."""
    acting = np.array([step.kind == "message" for step in trajectory.steps], dtype=bool)
    return [int(i) for i in np.nonzero(rejected_steps(trajectory) & acting)[0]]


Variant = Callable[[Analysis], int]
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


def rejection_backtrace(analysis: Analysis, config: BacktraceConfig = BacktraceConfig()) -> int:
    """:func:`origin_step`, else the feedback tracer's choice."""
    named = origin_step(analysis, config)
    return named if named is not None else feedback_ranking(analysis.trajectory)[0]


def _claim_relies_on_idg(analysis: Analysis, baseline: str = "distance_source", above: float = 1.0) -> np.ndarray:
    """The steps a walk back from the claim reaches over Soft-IDG edges relied on more than usual (lift above
    ``above``)."""
    claim, kept = claim_step(analysis.trajectory), analysis.features.kept
    relied = np.zeros(len(kept), dtype=bool)
    if claim is None or not kept[claim]:
        return relied
    lift = reliance_lift(analysis.features.attention, kept, baseline)
    relied[claim] = True
    for node in range(claim, 0, -1):
        if relied[node]:
            relied[:node] |= lift[:node, node] > above
    relied[claim] = False
    return relied


def _claim_relies_on_removal(analysis: Analysis, tested: list[int]) -> np.ndarray:
    """Of ``tested``, those whose removal makes the final claim less likely (mask delta above 0)."""
    effects = claim_effects(analysis.trajectory, tested)
    return effects.tested & (effects.mask_delta > 0)


def _relied_on_rejection(analysis: Analysis, relied_on: Callable[[Analysis, list[int]], np.ndarray]) -> int:
    """The first rejected acting step the claim relies on, else the first rejected, else the earlier carrier."""
    trajectory = analysis.trajectory
    claim = claim_step(trajectory)
    rejected = [i for i in _rejected_acting(trajectory) if claim is None or i < claim][:3]
    if not rejected:
        return feedback_ranking(trajectory)[0]
    relied = relied_on(analysis, rejected)
    return next((i for i in rejected if relied[i]), rejected[0])


def _within_claim_reliance(analysis: Analysis, baseline: str = "distance_source", feedback: bool = True,
                           above: float = 1.0) -> int:
    """Among the steps the claim relies on (Soft-IDG, lift above 1): the first rejected acting step, else the
    first earlier carrier of the claim, else the claim step itself."""
    trajectory = analysis.trajectory
    claim = claim_step(trajectory)
    if claim is None or not analysis.features.kept[claim]:
        return feedback_ranking(trajectory)[0]
    relied = _claim_relies_on_idg(analysis, baseline, above)
    rejected = [i for i in _rejected_acting(trajectory) if relied[i]] if feedback else []
    if rejected:
        return rejected[0]
    shares = final_claim_shares(trajectory) * relied
    first = first_claimer(shares)
    return first if first >= 0 else claim


def _earlier_carriers(trajectory: Trajectory, claim: int) -> list[int]:
    """The agent steps before the claim saying at least half of what the most complete of them says of it."""
    shares = final_claim_shares(trajectory)
    shares[claim:] = 0.0
    return [int(i) for i in np.nonzero(shares >= 0.5 * shares.max())[0]] if shares.max() > 0 else []


def removal_checked_feedback(analysis: Analysis, carriers_tested: int = 3) -> int:
    """Of the first 3 rejected acting steps before the claim (else the first ``carriers_tested`` earlier carriers
    of the claim), the first whose removal makes the claim less likely; none: the first rejected step, or with no
    rejection the claim step itself (nothing earlier that carries the claim supports it)."""
    trajectory = analysis.trajectory
    claim = claim_step(trajectory)
    if claim is None:
        return feedback_ranking(trajectory)[0]
    rejected = [i for i in _rejected_acting(trajectory) if i < claim][:3]
    candidates = rejected or _earlier_carriers(trajectory, claim)[:carriers_tested]
    if not candidates:
        return claim
    relied = _claim_relies_on_removal(analysis, candidates)
    return next((i for i in candidates if relied[i]), rejected[0] if rejected else claim)


def _first_rejected_else(analysis: Analysis, fallback: Variant) -> int:
    rejected = first_rejected_step(analysis.trajectory)
    return rejected if rejected >= 0 else fallback(analysis)


def likelihood_jump(analysis: Analysis) -> int:
    """The acting step before the claim after which the claim's NLL drops most; none: the claim step."""
    trajectory = analysis.trajectory
    claim = claim_step(trajectory)
    if claim is None:
        return feedback_ranking(trajectory)[0]
    jumps = claim_jumps(trajectory)
    acting = [s.index for s in trajectory.steps if s.kind == "message" and s.index < claim]
    return max(acting, key=lambda i: jumps[i]) if acting else claim


WHITE_BOX_VARIANTS: dict[str, Variant] = {
    # session 10: the Soft-IDG walked from the first rejected step ; constants
    # stated before scoring: lift above 1 (relied on more than usual), at least one shared distinctive word
    "rejection back-trace (distance baseline)": rejection_backtrace,
    "  same, uniform baseline 1/k (no recency/sink discount)": lambda a: rejection_backtrace(
        a, BacktraceConfig(baseline="uniform")),
    "  same, from the final claim (no feedback)": lambda a: rejection_backtrace(
        a, BacktraceConfig(from_rejection=False)),
    # stated after the three above were scored: their walks ran to the opening sink (distance baseline) or back
    # step by step to step 1 (uniform), and on Hand-Crafted named the orchestrator's plan
    "rejection back-trace, distance x source baseline": lambda a: rejection_backtrace(
        a, BacktraceConfig(baseline="distance_source")),
    "  same, acting steps named only": lambda a: rejection_backtrace(
        a, BacktraceConfig(baseline="distance_source", acting_origin=True)),
    # stated after the five above were scored: walking back from a rejection moves before the labelled step,
    # which mostly follows the first rejection; instead, of the first 3 rejected acting steps before the claim
    # (3: the counterfactual's usual budget), the first the final claim relies on
    "first rejected step the claim relies on (Soft-IDG lift > 1)": lambda a: _relied_on_rejection(
        a, lambda analysis, tested: _claim_relies_on_idg(analysis)),
    "first rejected step the claim relies on (removal, delta > 0)": lambda a: _relied_on_rejection(
        a, _claim_relies_on_removal),
    # stated after the seven above were scored: one reliance set (what the claim relies on, Soft-IDG lift > 1)
    # and the feedback and carrier rules inside it; the claim step itself when nothing in it carries the claim
    "claim reliance: rejected, else carrier, else the claim": _within_claim_reliance,
    "  same, uniform baseline 1/k": lambda a: _within_claim_reliance(a, "uniform"),
    "  same, no feedback (carrier, else the claim)": lambda a: _within_claim_reliance(a, feedback=False),
    # stated after the ten above were scored: the Soft-IDG reliance set covers nearly every step (lift > 1 is above
    # the mean, so each step has such an edge) and the uniform baseline's gain is leaving step 0 out; the removal
    # test instead, on the rejected steps or else on the claim's earlier carriers
    "removal-checked feedback (rejected / carriers, else the claim)": removal_checked_feedback,
    # stated after the eleven above were scored: lift > 1 is above the mean, so the reliance set saturates; twice
    # the expected share ("relied on twice as much as usual") instead
    "claim reliance, lift > 2": lambda a: _within_claim_reliance(a, above=2.0),
    # stated after the twelve above were scored, and chosen knowing them (a selection leak): the rejected-step half
    # of "first rejected step the claim relies on (removal)" with the carrier half of the removal-checked one, only
    # the feedback tracer's own carrier tested
    "verified feedback (removal on rejected; first carrier else the claim)": lambda a: removal_checked_feedback(
        a, carriers_tested=1),
    # stated after the thirteen above were scored: the claim read after every prefix of the acting steps (all of
    # them, not 3); the step after which it becomes most likely
    "claim-likelihood jump (acting step making the claim likely)": likelihood_jump,
    "first rejected acting step, else the claim-likelihood jump": lambda a: _first_rejected_else(
        a, likelihood_jump),
}
