import numpy as np

from engine.attribution.adapters import from_steps
from engine.attribution.claim_tracer import claim_ranking, claim_scores
from engine.evaluation.attribution import claim_predictions
from engine.attribution.schema import Label


def _trajectory(*steps):
    return from_steps([{"agent": agent, "kind": kind, "content": text} for agent, kind, text in steps], "t",
                      query="How many moons does the planet Zorblax have?", label=Label("Planner", 2))


def test_the_first_step_saying_the_final_claim_is_named_not_the_ones_repeating_it():
    trajectory = _trajectory(
        ("user", "query", "How many moons does the planet Zorblax have?"),
        ("Searcher", "message", "I will look up the catalogue of outer planets and their satellites."),
        ("Planner", "message", "From memory, Zorblax has 17 moons orbiting retrograde."),
        ("tool", "observation", "catalogue: Zorblax moons 17 retrograde"),
        ("Checker", "message", "Confirmed: Zorblax has 17 moons orbiting retrograde. TERMINATE"),
    )
    assert claim_ranking(trajectory)[0] == 2
    prediction = claim_predictions([trajectory])[0]
    assert (prediction.who, prediction.when) == ("Planner", 2)


def test_the_question_and_tool_output_are_never_named_even_when_they_say_the_claim_first():
    trajectory = _trajectory(
        ("user", "query", "Is it 17?"),
        ("tool", "observation", "Zorblax moons 17 retrograde"),
        ("Planner", "message", "Zorblax has 17 moons orbiting retrograde, the final answer."),
    )
    scores = claim_scores(trajectory)
    assert np.isneginf(scores[:2]).all() and claim_ranking(trajectory) == [2]


def test_without_any_claim_the_first_agent_step_is_named():
    trajectory = _trajectory(
        ("user", "query", "How many?"),
        ("Searcher", "message", "Searching."),
        ("Planner", "message", "TERMINATE"),
    )
    assert claim_ranking(trajectory)[0] == 1
