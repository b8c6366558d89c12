"""The unsupervised attribution variants tried for issue 13 (session 8), scored with the project's own exact match
(prints figures; not a pass/fail test):

    python -m tests.bench.unsupervised_variants --data ../shared/datasets/who_when

Nothing is fitted on Who&When; the only constants are plain ones stated with each variant ("half", "above the
agent's mean", "reach > 0"), fixed before scoring. The feedback tracer (the last but one variant) was chosen among
these by its dev figures, a mild leak the README states. Every variant names one step (``when``), its agent is
``who``; with nothing to go on a variant falls back to the claim tracer's choice. The SLM features and the Soft-IDG
come from the one-window default layout, cached by ``eval attribution``.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from engine.attribution.analysis import Analysis
from engine.attribution.backtrace import BacktraceConfig, backtrace_ranking, reliance_lift
from engine.attribution.claim_tracer import (
    claim_ranking,
    feedback_ranking,
    first_earlier_carrier,
    first_rejected_step,
    rejected_steps,
)
from engine.attribution.counterfactual import claim_effects, claim_jumps, claim_step
from engine.attribution.node_features import (
    distinctive_words,
    final_claim_shares,
    first_claimer,
    ledger_says_no_progress,
    question_words,
)
from engine.attribution.adapters import load_trajectories
from engine.attribution.schema import Trajectory
from engine.attribution.tracer import influence_reach
from engine.evaluation.attribution import EvalConfig, extract_all
from engine.evaluation.metrics import Gold, Prediction, who_when_scores

_NOT_CAUSES = ("query", "observation")
Variant = Callable[[Analysis], int]


def _claim_choice(trajectory: Trajectory) -> int:
    return claim_ranking(trajectory)[0]


def _is_agent_step(trajectory: Trajectory) -> np.ndarray:
    return np.array([step.kind not in _NOT_CAUSES for step in trajectory.steps])


def _is_acting(trajectory: Trajectory) -> np.ndarray:
    return np.array([step.kind == "message" for step in trajectory.steps])


def _introductions(trajectory: Trajectory) -> list[set[str]]:
    """Per step: the final claim's distinctive words it is the first to say (the question counts as said)."""
    question, claim = question_words(trajectory), claim_step(trajectory)
    final = distinctive_words(trajectory.steps[claim].content, question) if claim is not None else set()
    said, introduced = set(question), []
    for step in trajectory.steps:
        words = distinctive_words(step.content, question)
        introduced.append((words & final) - said)
        said |= words
    return introduced


def _first_introducer(analysis: Analysis, counts: Callable[[set[str]], bool], among: np.ndarray | None = None) -> int:
    """The first agent step up to the claim (within ``among``) whose introduced claim words ``counts``."""
    trajectory = analysis.trajectory
    claim = claim_step(trajectory)
    if claim is None:
        return _claim_choice(trajectory)
    allowed = _is_agent_step(trajectory) if among is None else _is_agent_step(trajectory) & among
    introduced = _introductions(trajectory)
    return next((i for i in range(claim + 1) if allowed[i] and counts(introduced[i])), _claim_choice(trajectory))


def first_introducer(analysis: Analysis) -> int:
    """The first agent step saying a word of the final claim nobody said before (the step that made it up)."""
    return _first_introducer(analysis, bool)


def first_made_up_number(analysis: Analysis) -> int:
    """As :func:`first_introducer`, counting only numbers."""
    return _first_introducer(analysis, lambda words: any(any(c.isdigit() for c in w) for w in words))


def most_introductions(analysis: Analysis) -> int:
    """The agent step first to say the most words of the final claim (ties: the earliest)."""
    trajectory = analysis.trajectory
    counts = [len(words) if agent else -1 for words, agent in zip(_introductions(trajectory),
                                                                  _is_agent_step(trajectory))]
    return int(np.argmax(counts)) if max(counts) > 0 else _claim_choice(trajectory)


def _claim_dependencies(analysis: Analysis) -> np.ndarray:
    """The steps a backward walk over the Soft-IDG from the claim can reach (reach > 0), and the claim."""
    claim = claim_step(analysis.trajectory)
    if claim is None or not analysis.features.kept[claim]:
        return np.ones(len(analysis.trajectory.steps), dtype=bool)
    reached = influence_reach(analysis.graph, [claim]) > 0
    reached[claim] = True
    return reached


def _strongest_path(analysis: Analysis) -> list[int]:
    """From the claim back along each step's strongest Soft-IDG in-edge until a step has none."""
    claim = claim_step(analysis.trajectory)
    if claim is None or not analysis.features.kept[claim]:
        return []
    path = [claim]
    while analysis.graph[:, path[-1]].max(initial=0.0) > 0:
        path.append(int(np.argmax(analysis.graph[:, path[-1]])))
    return path


def _on_path(analysis: Analysis) -> np.ndarray:
    mask = np.zeros(len(analysis.trajectory.steps), dtype=bool)
    mask[_strongest_path(analysis)] = True
    return mask


def first_introducer_on_dependencies(analysis: Analysis) -> int:
    return _first_introducer(analysis, bool, _claim_dependencies(analysis))


def _claim_tracer_among(analysis: Analysis, among: np.ndarray) -> int:
    first = first_claimer(final_claim_shares(analysis.trajectory) * among)
    return first if first >= 0 else _claim_choice(analysis.trajectory)


def claim_tracer_on_dependencies(analysis: Analysis) -> int:
    return _claim_tracer_among(analysis, _claim_dependencies(analysis))


def claim_tracer_on_strongest_path(analysis: Analysis) -> int:
    return _claim_tracer_among(analysis, _on_path(analysis))


def acting_step_claim(analysis: Analysis) -> int:
    """The claim tracer among acting steps (an agent's own turn: not a plan, an instruction or tool output)."""
    return _claim_tracer_among(analysis, _is_acting(analysis.trajectory))


def _above_agent_mean_on_path(analysis: Analysis, signal: np.ndarray) -> int:
    """On the strongest path back from the claim, the earliest kept agent step whose ``signal`` is above the mean
    of its agent's kept agent steps (else the earliest agent step on the path)."""
    trajectory, kept = analysis.trajectory, analysis.features.kept
    own = _is_agent_step(trajectory) & kept
    on_path = [i for i in _strongest_path(analysis) if own[i]]
    if not on_path:
        return _claim_choice(trajectory)
    agents = np.array([step.agent for step in trajectory.steps])
    above = [i for i in on_path if signal[i] > signal[own & (agents == agents[i])].mean()]
    return min(above or on_path)


def _novelty(trajectory: Trajectory) -> np.ndarray:
    """Per step: the share of its distinctive words that neither the question nor an earlier step said."""
    question = question_words(trajectory)
    said, shares = set(question), []
    for step in trajectory.steps:
        words = distinctive_words(step.content, question)
        shares.append(len(words - said) / len(words) if words else 0.0)
        said |= words
    return np.array(shares)


def path_grounding_gap(analysis: Analysis) -> int:
    return _above_agent_mean_on_path(analysis, _novelty(analysis.trajectory))


def path_surprisal(analysis: Analysis) -> int:
    return _above_agent_mean_on_path(analysis, analysis.features.nll_mean)


def _rejected_else(analysis: Analysis, fallback: Callable[[Trajectory], int], **rule) -> int:
    rejected = first_rejected_step(analysis.trajectory, **rule)
    return rejected if rejected >= 0 else fallback(analysis.trajectory)


def earliest_rejected_or_claimer(analysis: Analysis) -> int:
    trajectory = analysis.trajectory
    rejected, claimer = first_rejected_step(trajectory), _claim_choice(trajectory)
    return min(rejected, claimer) if rejected >= 0 else claimer


def earlier_carrier_among_acting(analysis: Analysis) -> int:
    trajectory = analysis.trajectory
    claim = claim_step(trajectory)
    if claim is None:
        return _claim_choice(trajectory)
    shares = final_claim_shares(trajectory) * _is_acting(trajectory)
    shares[claim:] = 0.0
    first = first_claimer(shares)
    return first if first >= 0 else claim


def _earlier_carrier(trajectory: Trajectory) -> int:
    carrier = first_earlier_carrier(trajectory)
    return carrier if carrier >= 0 else _claim_choice(trajectory)


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
    rejected = [i for i in rejected_steps(trajectory) if claim is None or i < claim][:3]
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
    rejected = [i for i in rejected_steps(trajectory) if relied[i]] if feedback else []
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


def removal_checked_feedback(analysis: Analysis) -> int:
    """Of the first 3 rejected acting steps before the claim (else the first 3 earlier carriers of the claim), the
    first whose removal makes the claim less likely; none: the first rejected step, or with no rejection the claim
    step itself (nothing earlier that carries the claim supports it)."""
    trajectory = analysis.trajectory
    claim = claim_step(trajectory)
    if claim is None:
        return feedback_ranking(trajectory)[0]
    rejected = [i for i in rejected_steps(trajectory) if i < claim][:3]
    candidates = rejected or _earlier_carriers(trajectory, claim)[:3]
    if not candidates:
        return claim
    relied = _claim_relies_on_removal(analysis, candidates)
    return next((i for i in candidates if relied[i]), rejected[0] if rejected else claim)


def verified_feedback(analysis: Analysis) -> int:
    """Of the first 3 rejected acting steps before the claim, the first whose removal makes the claim less likely
    (none: the first rejected); with no rejection the first earlier carrier if the claim relies on it, else the
    claim step itself."""
    trajectory = analysis.trajectory
    claim = claim_step(trajectory)
    if claim is None:
        return feedback_ranking(trajectory)[0]
    rejected = [i for i in rejected_steps(trajectory) if i < claim][:3]
    candidates = rejected or _earlier_carriers(trajectory, claim)[:1]
    if not candidates:
        return claim
    relied = _claim_relies_on_removal(analysis, candidates)
    return next((i for i in candidates if relied[i]), rejected[0] if rejected else claim)


def likelihood_jump(analysis: Analysis) -> int:
    """The acting step before the claim after which the claim's NLL drops most; none: the claim step."""
    trajectory = analysis.trajectory
    claim = claim_step(trajectory)
    if claim is None:
        return feedback_ranking(trajectory)[0]
    jumps = claim_jumps(trajectory)
    acting = [s.index for s in trajectory.steps if s.kind == "message" and s.index < claim]
    return max(acting, key=lambda i: jumps[i]) if acting else claim


VARIANTS: dict[str, Variant] = {
    "claim tracer (reference)": lambda a: _claim_choice(a.trajectory),
    "first introducer": first_introducer,
    "most introductions": most_introductions,
    "first made-up number": first_made_up_number,
    "IDG path + grounding gap (novelty above agent mean)": path_grounding_gap,
    "IDG path + surprisal above agent mean": path_surprisal,
    "claim tracer on IDG dependencies (reach > 0)": claim_tracer_on_dependencies,
    "first introducer on IDG dependencies": first_introducer_on_dependencies,
    "claim tracer on the strongest IDG path": claim_tracer_on_strongest_path,
    "acting-step claim": acting_step_claim,
    "first rejected acting step, else claim tracer": lambda a: _rejected_else(a, _claim_choice),
    "first rejected acting step, tool output a reply": lambda a: _rejected_else(a, _claim_choice,
                                                                              not_replies=("query",)),
    "first acting step a ledger judges no progress": lambda a: _rejected_else(a, _claim_choice,
                                                                             rejects=ledger_says_no_progress),
    "earliest of first rejected / first claimer": earliest_rejected_or_claimer,
    "first earlier carrier (claim step out of the max)": lambda a: _earlier_carrier(a.trajectory),
    "feedback tracer: first rejected, else earlier carrier": lambda a: feedback_ranking(a.trajectory)[0],
    "first earlier carrier among acting steps": earlier_carrier_among_acting,
    # session 10: the Soft-IDG walked from the first rejected step (engine/attribution/backtrace.py); constants
    # stated before scoring: lift above 1 (relied on more than usual), at least one shared distinctive word
    "rejection back-trace (distance baseline)": lambda a: backtrace_ranking(a)[0],
    "  same, uniform baseline 1/k (no recency/sink discount)": lambda a: backtrace_ranking(
        a, BacktraceConfig(baseline="uniform"))[0],
    "  same, from the final claim (no feedback)": lambda a: backtrace_ranking(
        a, BacktraceConfig(from_rejection=False))[0],
    # stated after the three above were scored: their walks ran to the opening sink (distance baseline) or back
    # step by step to step 1 (uniform), and on Hand-Crafted named the orchestrator's plan
    "rejection back-trace, distance x source baseline": lambda a: backtrace_ranking(
        a, BacktraceConfig(baseline="distance_source"))[0],
    "  same, acting steps named only": lambda a: backtrace_ranking(
        a, BacktraceConfig(baseline="distance_source", acting_origin=True))[0],
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
    "verified feedback (removal on rejected; first carrier else the claim)": verified_feedback,
    # stated after the thirteen above were scored: the claim read after every prefix of the acting steps (all of
    # them, not 3); the step after which it becomes most likely
    "claim-likelihood jump (acting step making the claim likely)": likelihood_jump,
    "first rejected acting step, else the claim-likelihood jump": lambda a: _rejected_else(
        a, lambda trajectory: likelihood_jump(a)),
}


def score(variant: Variant, analyses: list[Analysis]) -> dict:
    predictions, golds = [], []
    for analysis in analyses:
        trajectory, when = analysis.trajectory, variant(analysis)
        predictions.append(Prediction(trajectory.id, trajectory.steps[when].agent, when, [when]))
        golds.append(Gold(trajectory.label.who or "", int(trajectory.label.when)))
    return who_when_scores(predictions, golds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Who&When root (Hand-Crafted/, Algorithm-Generated/)")
    args = parser.parse_args()
    subsets = ("Hand-Crafted", "Algorithm-Generated")
    analyses = {}
    for subset in subsets:
        labelled = [t for t in load_trajectories(args.data, subset) if t.label and t.label.when is not None]
        analyses[subset] = extract_all(labelled, EvalConfig())[0]
    print(f"{'variant':<56} {'HC who / when':>15} {'AG who / when':>15}")
    for name, variant in VARIANTS.items():
        figures = [score(variant, analyses[subset]) for subset in subsets]
        print(f"{name:<56} " + " ".join(f"{f['who']:>7.3f} / {f['when']:.3f}" for f in figures))


if __name__ == "__main__":
    main()
