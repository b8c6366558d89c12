"""Two unsupervised tracers that read only the text, with no constant fitted on any labelled data; milliseconds per
trajectory, no model.

* The claim tracer. The run failed, so its final claim is wrong. The step that first says it
  (:func:`first_claimer`: the first agent step saying at least half of what the most complete step says of the
  final claim's distinctive words; "half" is a plain majority, fixed beforehand) is where the wrong content entered
  the run: that step is ``when`` and its agent ``who``. The other agent steps follow by how much of the claim they
  say; the question and tool output are never named.
* The feedback tracer. The first acting step (an agent's own turn: kind ``message``, not a plan, an instruction,
  the question or tool output) that the next other agent to speak rejects (:func:`gives_negative_feedback`: says
  it failed, was wrong or irrelevant, or, as a Magentic-One ledger, that no progress is made or the run is in a
  loop) is where the run went wrong. With no such step, the first carrier of the final claim before the claim
  itself (:func:`first_earlier_carrier`) is named. The claim tracer's order follows.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.attribution.counterfactual import claim_step
from engine.attribution.node_features import final_claim_shares, first_claimer, gives_negative_feedback
from engine.attribution.schema import Trajectory

_NOT_CAUSES = ("query", "observation")
_ACTING = "message"
_NAMED = 2.0  # above every share (a share is at most 1)


def claim_scores(trajectory: Trajectory) -> np.ndarray:
    """Per step: the first claimer highest, then the share of the claim each agent step says; -inf for the
    question and tool output. With no claim at all every agent step ties at 0 (the first one is named)."""
    shares = final_claim_shares(trajectory)
    first = first_claimer(shares)
    if first >= 0:
        shares[first] = _NAMED
    agent_step = np.array([step.kind not in _NOT_CAUSES for step in trajectory.steps])
    if not agent_step.any():
        agent_step[:] = True
    return np.where(agent_step, shares, -np.inf)


def claim_ranking(trajectory: Trajectory, top_k: int = 5) -> list[int]:
    """The steps in the claim tracer's order (best first, ties by position), at most ``top_k``."""
    scores = claim_scores(trajectory)
    return [int(i) for i in np.argsort(-scores, kind="stable") if np.isfinite(scores[i])][:top_k]


def rejected_steps(trajectory: Trajectory, rejects: Callable[[str], bool] = gives_negative_feedback,
                   not_replies: tuple[str, ...] = _NOT_CAUSES) -> list[int]:
    """The acting steps whose reply (the next step by another agent whose kind is not in ``not_replies``: by
    default the question and tool output are no replies) ``rejects``, in order."""
    steps = trajectory.steps
    rejected = []
    for step in steps:
        if step.kind != _ACTING:
            continue
        reply = next((later for later in steps[step.index + 1:]
                      if later.agent != step.agent and later.kind not in not_replies), None)
        if reply is not None and rejects(reply.content):
            rejected.append(step.index)
    return rejected


def first_rejected_step(trajectory: Trajectory, rejects: Callable[[str], bool] = gives_negative_feedback,
                        not_replies: tuple[str, ...] = _NOT_CAUSES) -> int:
    """The first of :func:`rejected_steps`; -1 when there is none."""
    return next(iter(rejected_steps(trajectory, rejects, not_replies)), -1)


def first_earlier_carrier(trajectory: Trajectory) -> int:
    """The first agent step before the final claim that says at least half of what the most complete of those
    steps says of the claim (the claim step says all of itself, so it is left out of that maximum); the claim step
    when no earlier step says any of it; -1 when the run has no claim."""
    claim = claim_step(trajectory)
    if claim is None:
        return -1
    shares = final_claim_shares(trajectory)
    shares[claim:] = 0.0
    first = first_claimer(shares)
    return first if first >= 0 else claim


def feedback_ranking(trajectory: Trajectory, top_k: int = 5) -> list[int]:
    """The feedback tracer's order: the first rejected acting step (else the first earlier carrier of the claim),
    then the claim tracer's order."""
    order = claim_ranking(trajectory, top_k=len(trajectory.steps))
    choice = first_rejected_step(trajectory)
    if choice < 0:
        choice = first_earlier_carrier(trajectory)
    if choice < 0:
        return order[:top_k]
    return ([choice] + [i for i in order if i != choice])[:top_k]
