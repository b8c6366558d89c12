"""The shift tracer: an unsupervised tracer (nothing fitted) that reads the run forwards, the feedback tracer's
candidates ranked by a white-box signal.

The run's own feedback says where things went wrong (the acting steps the next other agent rejects, see
:func:`~engine.attribution.node_features.rejected_acting_steps`), but a rejected error is often retried and the decisive
one comes later. The SLM says where the run's course changed: its step states (each kept step's mean last-layer
hidden state, unit length) split best into a before and an after (least squares, one change point, each side at
least ``MIN_SIDE`` kept steps, fixed before scoring: a lone final claim is no course). Of the rejected acting steps,
the one that opens the after side of the best such split is named (:func:`shift_ranking`); with no rejected step
read by the SLM, the feedback tracer's step. The white-box signal only breaks ties among the feedback's candidates.
On the Who&When dev split it reaches both unsupervised targets with the one-window features (when: Hand-Crafted
.207, Algorithm-Generated .333), one trajectory above the feedback tracer on each; with the whole trajectory read
(chunked) Hand-Crafted falls to .103 (README, "Failure attribution on Who&When").
"""
from __future__ import annotations

import numpy as np

from engine.attribution.analysis import Analysis
from engine.attribution.claim_tracer import feedback_ranking
from engine.attribution.node_features import rejected_acting_steps

MIN_SIDE = 2


def unit_states(analysis: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """(the kept steps' indices in order, their mean hidden states scaled to unit length)."""
    order = np.nonzero(analysis.features.kept)[0]
    states = analysis.features.embeddings[order].astype(float)
    return order, states / np.maximum(np.linalg.norm(states, axis=1, keepdims=True), 1e-12)


def split_errors(states: np.ndarray, min_side: int = MIN_SIDE) -> np.ndarray:
    """Per split position p (the after side starts at row p): the summed squared distance of each side's rows to
    that side's mean; inf where a side has fewer than ``min_side`` rows."""
    errors = np.full(len(states), np.inf)
    for split in range(min_side, len(states) - min_side + 1):
        before, after = states[:split], states[split:]
        errors[split] = ((before - before.mean(0)) ** 2).sum() + ((after - after.mean(0)) ** 2).sum()
    return errors


def shift_ranking(analysis: Analysis, top_k: int = 5) -> list[int]:
    """The rejected acting steps by how well a change point at each explains the step states (best first), then
    the feedback tracer's order; only the feedback tracer's order when no rejected step can open a split."""
    trajectory = analysis.trajectory
    order, states = unit_states(analysis)
    errors = split_errors(states)
    position = {int(step): p for p, step in enumerate(order)}
    candidates = [int(i) for i in np.nonzero(rejected_acting_steps(trajectory))[0]
                  if int(i) in position and np.isfinite(errors[position[int(i)]])]
    ranked = sorted(candidates, key=lambda i: errors[position[i]])
    rest = [i for i in feedback_ranking(trajectory, top_k=len(trajectory.steps)) if i not in ranked]
    return (ranked + rest)[:top_k]
