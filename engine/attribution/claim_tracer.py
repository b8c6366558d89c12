"""The claim tracer: an unsupervised tracer with no constant fitted on any labelled data.

The run failed, so its final claim is wrong. The step that first says it (:func:`first_claimer`: the first agent
step saying at least half of what the most complete step says of the final claim's distinctive words; "half" is a
plain majority, fixed beforehand) is where the wrong content entered the run: that step is ``when`` and its agent
``who``. The other agent steps follow by how much of the claim they say; the question and tool output are never
named. It reads only the text, so it needs no model and costs milliseconds.
"""
from __future__ import annotations

import numpy as np

from engine.attribution.node_features import final_claim_shares, first_claimer
from engine.attribution.schema import Trajectory

_NOT_CAUSES = ("query", "observation")
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
