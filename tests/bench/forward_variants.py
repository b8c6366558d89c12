"""Unsupervised variants tried in session 11 (issue 13): read the run forwards instead of tracing back from its
end, scored by ``python -m tests.bench.unsupervised_variants``. Each variant and its constants were stated (this
file, committed) before any of them was scored; what was known then: the earlier variants' figures (README) and
that the labelled step mostly follows the first rejection (21 of 28 Hand-Crafted, 14 of 18 Algorithm-Generated
runs with a rejected acting step).

* **No recovery** (:func:`no_recovery`): a rejected step that its agent's next acting step recovers from (that next
  step is not rejected) did not sink the run; the decisive mistake is the first rejected acting step after which
  the agent that made it is never accepted again (every later acting step of that agent rejected, or none left).
  With no rejection: the feedback tracer's fallback (the first earlier carrier of the claim).
* **Last failure run** (:func:`last_failure_run`): over all acting steps in order, the first of the last unbroken
  run of rejected ones (the point after which the run never recovered); no rejection: as above.
* **Hidden-state change point** (:func:`state_shift`): the run's course changes where the SLM's step states
  (mean last-layer hidden state per kept step, unit length) split best into a before and an after (least squares,
  one change point, each side at least 2 kept steps: a lone final claim is no course); the first acting step of
  the after side is named (none there: the feedback tracer's step).
* **Rejections ranked by the change point**: the white-box signal only as a tie-breaker among the feedback
  tracer's candidates: of the rejected acting steps, the one where splitting the step states (it opens the after
  side) leaves the least squared error; none rejected: the feedback tracer's step. It reached both unsupervised
  targets on dev (Hand-Crafted when .207, Algorithm-Generated .333) and became the product's shift tracer
  (:mod:`engine.attribution.shift_tracer`, where its code now lives; same choices, checked by re-running this).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.attribution.analysis import Analysis
from engine.attribution.claim_tracer import feedback_ranking
from engine.attribution.node_features import rejected_steps
from engine.attribution.schema import Trajectory
from engine.attribution.shift_tracer import shift_ranking, split_errors, unit_states

Variant = Callable[[Analysis], int]
_ACTING = "message"


def _acting(trajectory: Trajectory) -> np.ndarray:
    return np.array([step.kind == _ACTING for step in trajectory.steps], dtype=bool)


def _feedback_choice(analysis: Analysis) -> int:
    return feedback_ranking(analysis.trajectory)[0]


def no_recovery(analysis: Analysis) -> int:
    trajectory = analysis.trajectory
    acting, rejected = _acting(trajectory), rejected_steps(trajectory)
    agents = [step.agent for step in trajectory.steps]
    for index in np.nonzero(acting & rejected)[0]:
        later_own = [i for i in range(index + 1, len(agents)) if acting[i] and agents[i] == agents[index]]
        if all(rejected[i] for i in later_own):
            return int(index)
    return _feedback_choice(analysis)


def last_failure_run(analysis: Analysis) -> int:
    trajectory = analysis.trajectory
    acting_steps = np.nonzero(_acting(trajectory))[0]
    rejected = rejected_steps(trajectory)[acting_steps]
    if not rejected.any():
        return _feedback_choice(analysis)
    last = int(np.nonzero(rejected)[0][-1])
    first = last
    while first > 0 and rejected[first - 1]:
        first -= 1
    return int(acting_steps[first])


def state_shift(analysis: Analysis) -> int:
    order, states = unit_states(analysis)
    errors = split_errors(states)
    if not np.isfinite(errors).any():
        return _feedback_choice(analysis)
    acting = _acting(analysis.trajectory)
    after = [int(i) for i in order[int(np.argmin(errors)):] if acting[i]]
    return after[0] if after else _feedback_choice(analysis)


FORWARD_VARIANTS: dict[str, Variant] = {
    # session 11: all four stated together, before any was scored
    "no recovery: first rejected step its agent never recovers from": no_recovery,
    "last failure run: first of the last unbroken run of rejected steps": last_failure_run,
    "hidden-state change point: first acting step after it": state_shift,
    "rejected steps ranked by the hidden-state change point": lambda a: shift_ranking(a)[0],
}
