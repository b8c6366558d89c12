import numpy as np

from engine.attribution.adapters import from_steps
from engine.attribution.claim_tracer import claim_ranking, claim_scores, feedback_ranking
from engine.attribution.node_features import first_earlier_carrier, first_rejected_step, rejected_steps
from engine.evaluation.attribution import text_tracer_predictions
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
    prediction = text_tracer_predictions([trajectory])[0]
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


def test_feedback_tracer_names_the_first_acting_step_the_next_other_agent_rejects():
    trajectory = _trajectory(
        ("human", "query", "How many moons does the planet Zorblax have?"),
        ("Orchestrator", "thought", "Plan: search the planetary catalogue for Zorblax."),
        ("Orchestrator", "action", "Please search the catalogue for Zorblax."),
        ("WebSurfer", "message", "I typed 'Zorblax moons': a catalogue lists 17 moons, orbiting retrograde."),
        ("ComputerTerminal", "observation", "error: the page failed to load one image"),
        ("Orchestrator", "thought", '{"is_in_loop": {"reason": "fine", "answer": false}, '
                                    '"is_progress_being_made": {"reason": "a catalogue was found", "answer": true}}'),
        ("WebSurfer", "message", "I clicked an advert about telescopes: Zorblax has 17 moons orbiting retrograde."),
        ("Orchestrator", "thought", '{"is_in_loop": {"reason": "it keeps clicking adverts", "answer": true}, '
                                    '"is_progress_being_made": {"reason": "none", "answer": false}}'),
        ("Orchestrator", "thought", "FINAL ANSWER: Zorblax has 17 moons orbiting retrograde."),
    )
    # tool output that says "error" is not a reply; the ledger after step 6 rejects it, the one after step 3 does not
    # (step 3 is the first carrier of the claim, so a tracer that missed the rejection would name it)
    assert first_earlier_carrier(trajectory) == 3
    assert first_rejected_step(trajectory) == 6
    assert feedback_ranking(trajectory)[0] == 6
    prediction = text_tracer_predictions([trajectory], feedback_ranking)[0]
    assert (prediction.who, prediction.when) == ("WebSurfer", 6)


def test_without_a_rejection_the_feedback_tracer_names_the_first_earlier_carrier_of_the_claim():
    trajectory = _trajectory(
        ("user", "query", "How many moons does the planet Zorblax have?"),
        ("Searcher", "message", "Zorblax: 17 moons, orbiting retrograde."),
        ("Planner", "message", "So 17, then."),
        ("Checker", "message", "Final: Zorblax has 17 moons orbiting retrograde, per the outer planets catalogue "
                               "listing of satellites. TERMINATE"),
    )
    # no step says half of the claim (the claim tracer names the claim itself); step 1 says the most of it before
    assert first_rejected_step(trajectory) == -1
    assert claim_ranking(trajectory)[0] == 3
    assert first_earlier_carrier(trajectory) == 1 and feedback_ranking(trajectory)[0] == 1


def test_the_claim_step_is_the_earlier_carrier_when_nothing_before_it_says_any_of_the_claim():
    trajectory = _trajectory(
        ("user", "query", "How many moons does the planet Zorblax have?"),
        ("Searcher", "message", "I could not reach the catalogue."),
        ("Checker", "message", "Final: Zorblax has 17 moons orbiting retrograde. TERMINATE"),
    )
    assert first_earlier_carrier(trajectory) == 2


def test_every_rejected_acting_step_is_listed_in_order_and_the_first_is_the_feedback_tracers_choice():
    trajectory = _trajectory(
        ("user", "query", "How many moons does the planet Zorblax have?"),
        ("Searcher", "message", "The catalogue says Zorblax has 12 moons."),
        ("Checker", "message", "That is wrong: the catalogue is outdated."),
        ("Searcher", "message", "A newer page says 17 moons."),
        ("Checker", "message", "Good, that source is current."),
        ("Searcher", "message", "An advert says 40 moons."),
        ("Checker", "message", "Irrelevant: that is an advert."),
        ("Checker", "message", "Final: Zorblax has 17 moons. TERMINATE"),
    )
    # the Checker's replies reject steps 1 and 5 and accept step 3; its own steps have no reply from another agent
    assert list(np.nonzero(rejected_steps(trajectory))[0]) == [1, 5]
    assert first_rejected_step(trajectory) == 1 and feedback_ranking(trajectory)[0] == 1
