import numpy as np

from engine.attribution.adapters import from_steps
from engine.attribution.claim_tracer import feedback_ranking
from engine.attribution.features import StepFeatures
from engine.attribution.pipeline import analyse
from engine.attribution.schema import Label
from engine.attribution.shift_tracer import shift_ranking, split_errors
from engine.evaluation.attribution import shift_tracer_predictions

_STEPS = (
    ("user", "query", "What does the cheapest direct flight from Oslo to Lima cost?"),
    ("Planner", "thought", "Plan: compare the airlines' fare pages."),
    ("Searcher", "message", "The first fare page lists 980 euros with one stop."),
    ("Checker", "message", "Incorrect: that flight has a stop, we need a direct one."),
    ("Searcher", "message", "A direct flight on the second page costs 1240 euros."),
    ("Checker", "message", "Good, that one is direct."),
    ("Searcher", "message", "A travel blog says direct flights start at 610 euros."),
    ("Checker", "message", "Not relevant: a blog is no fare page."),
    ("Searcher", "message", "Then the blog's 610 euros it is."),
    ("Checker", "message", "Final: the cheapest direct flight costs 610 euros. TERMINATE"),
)


def _analysis(steps, course_changes_at: int):
    """Steps whose hidden states point one way before ``course_changes_at`` and another from it on (plus noise)."""
    trajectory = from_steps([{"agent": a, "kind": k, "content": c} for a, k, c in steps], "t",
                            query=steps[0][2], label=Label("Searcher", course_changes_at))
    n = len(steps)
    rng = np.random.default_rng(0)
    embeddings = np.where(np.arange(n)[:, None] < course_changes_at, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    embeddings = (embeddings + 0.05 * rng.standard_normal((n, 3))).astype(np.float32)
    attention = np.triu(np.full((n, n), 1.0 / n), 1)
    features = StepFeatures(np.ones(n, dtype=bool), attention, embeddings, np.ones(n), np.ones(n), np.full(n, 8.0))
    return analyse(trajectory, features)


def test_the_change_point_is_where_the_states_split_best_and_a_side_needs_two_steps():
    states = np.array([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 4)
    errors = split_errors(states)
    assert np.isinf(errors[[0, 1, 6]]).all() and int(np.argmin(errors)) == 3 and errors[3] == 0.0


def test_of_the_rejected_steps_the_one_where_the_course_changes_is_named_not_the_first():
    # steps 2 and 6 are rejected; the states change at 6 (the blog the run then follows to its wrong claim)
    analysis = _analysis(_STEPS, course_changes_at=6)
    assert feedback_ranking(analysis.trajectory)[0] == 2
    assert shift_ranking(analysis)[:2] == [6, 2]
    prediction = shift_tracer_predictions([analysis])[0]
    assert (prediction.who, prediction.when) == ("Searcher", 6)


def test_when_the_course_changes_at_the_first_rejection_that_step_is_named():
    assert shift_ranking(_analysis(_STEPS, course_changes_at=2))[0] == 2


def test_a_rejected_step_too_close_to_the_start_to_open_a_split_is_no_candidate():
    # a change at step 1 leaves one step before it: no split there, so rejected step 1 of this run is skipped
    shorter = _STEPS[:1] + _STEPS[2:]
    assert shift_ranking(_analysis(shorter, course_changes_at=1))[0] == 5


def test_without_a_rejection_the_shift_tracer_names_the_feedback_tracers_step():
    accepted = [(a, k, c.replace("Incorrect", "Noted").replace("Not relevant", "Noted")) for a, k, c in _STEPS]
    analysis = _analysis(accepted, course_changes_at=6)
    assert shift_ranking(analysis) == feedback_ranking(analysis.trajectory)
