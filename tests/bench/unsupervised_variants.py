"""The unsupervised attribution variants tried for issue 13 (session 8), scored with the project's own exact match
(prints figures; not a pass/fail test):

    python -m tests.bench.unsupervised_variants --data ../shared/datasets/who_when

Nothing is fitted on Who&When; the only constants are plain ones stated with each variant ("half", "above the
agent's mean", "reach > 0"), fixed before scoring. The feedback tracer (the last but one variant) was chosen among
these by its dev figures, a mild leak the README states. Every variant names one step (``when``), its agent is
``who``; with nothing to go on a variant falls back to the claim tracer's choice. The SLM features and the Soft-IDG
come from the one-window default layout, cached by ``eval attribution``. Session 10's white-box variants (the
Soft-IDG walked from the run's feedback, counterfactual checks) are in :mod:`tests.bench.white_box_variants` and
session 11's forward readings in :mod:`tests.bench.forward_variants`, printed after these.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from engine.attribution.analysis import Analysis
from engine.attribution.claim_tracer import claim_ranking, feedback_ranking
from engine.attribution.counterfactual import claim_step
from engine.attribution.node_features import (
    distinctive_words,
    final_claim_shares,
    first_claimer,
    first_earlier_carrier,
    first_rejected_step,
    ledger_says_no_progress,
    question_words,
)
from engine.attribution.adapters import load_trajectories
from engine.attribution.schema import Trajectory
from engine.attribution.tracer import influence_reach
from engine.evaluation.attribution import EvalConfig, extract_all
from engine.evaluation.metrics import Gold, Prediction, who_when_scores
from tests.bench.forward_variants import FORWARD_VARIANTS
from tests.bench.white_box_variants import WHITE_BOX_VARIANTS

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
    **WHITE_BOX_VARIANTS,
    **FORWARD_VARIANTS,
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
    print(f"{'variant':<70} {'HC who / when':>15} {'AG who / when':>15}")
    for name, variant in VARIANTS.items():
        figures = [score(variant, analyses[subset]) for subset in subsets]
        print(f"{name:<70} " + " ".join(f"{f['who']:>7.3f} / {f['when']:.3f}" for f in figures))


if __name__ == "__main__":
    main()
