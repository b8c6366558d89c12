"""Text signals of the learned tracer that say where a claim came from."""
from __future__ import annotations

from engine.attribution.node_features import (
    dissenting_votes,
    echo_shares,
    feature_names,
    final_claim_shares,
    first_claimer,
    novel_numbers,
)
from tests.unit.attribution.conftest import make_trajectory


def test_made_up_figures_are_novel_and_figures_read_off_tool_output_are_not():
    trajectory = make_trajectory([
        ("oracle", "observation", '{"candidates": [{"entity": "cart", "score": 0.2903}, {"entity": "email", "score": 0.12}]}'),
        ("oracle", "action", "cart scores 0.29 (29% of all), email 0.12"),
        ("oracle", "action", "email: error rate 100%, latency x20 over baseline, score 0.4455"),
    ], query="Which service failed?")
    counts = novel_numbers(trajectory)
    assert counts[1] == (0, 3)  # 0.29 rounds 0.2903, 29% is that share, 0.12 was shown
    assert counts[2] == (3, 3)  # 100, 20 and 0.4455 appear nowhere before


def test_a_repeated_claim_echoes_the_step_that_made_it():
    claim = "checkoutservice is the root cause with error rate far over its baseline"
    trajectory = make_trajectory([
        ("tool", "observation", "the sweep says checkoutservice is the root cause with error rate far over"),
        ("oracle", "action", claim),
        ("oracle", "tx", f"Propose: {claim}"),
    ])
    shares = echo_shares(trajectory)
    assert shares[1] == 0.0  # tool output does not count as something an agent said
    assert shares[2] > 0.9  # all but the trigram with "Propose"


def test_the_step_that_first_makes_the_final_claim_is_the_first_claimer():
    trajectory = make_trajectory([
        ("Planner", "message", "Plan: list the contributors, then compare them with the heads of government."),
        ("Terminal", "observation", "contributors: Alekhin, Kurtaev, Li Peng; none of them match the filter"),
        ("Verifier", "message", "None of the contributors matches any head of government after transliteration."),
        ("Planner", "message", "Agreed: none of the contributors matches a head of government. TERMINATE"),
        ("Verifier", "message", "TERMINATE"),
    ], query="Which OpenCV contributor has the name of a former Chinese head of government?")
    shares = final_claim_shares(trajectory)
    assert shares[1] == 0.0  # tool output makes no claim
    assert shares[0] < 0.5 < shares[2]
    assert first_claimer(shares) == 2  # the Verifier said it before the Planner repeated it


def test_a_vote_on_the_side_fewer_voters_took_dissents_within_its_proposal():
    trajectory = make_trajectory([
        ("oracle", "tx", "Propose cart: error rate 40x baseline"),
        ("detective", "tx", "Vote for: cart errors match"),
        ("explorer", "tx", "Vote against: I back the opposite"),
        ("mapper", "tx", "Vote for: the path ends at cart"),
        ("oracle", "tx", "Propose email: second round"),
        ("detective", "tx", "Vote against: email is healthy"),
        ("explorer", "tx", "Vote against: no errors at email"),
    ])
    assert dissenting_votes(trajectory) == {2}  # in round two nobody voted for, so nobody dissents


def test_a_step_is_rejected_by_the_next_other_agent_to_speak_not_by_tool_output():
    from engine.attribution.node_features import first_rejected_step, node_features, rejected_steps

    trajectory = make_trajectory([
        ("Surfer", "message", "I opened the page and typed the query."),
        ("Terminal", "observation", "error: page not found"),
        ("Surfer", "message", "Here are the results from the page."),
        ("Orchestrator", "thought", "That did not work: the results are irrelevant."),
        ("Surfer", "message", "I scrolled down."),
        ("Orchestrator", "thought", "Good, that is the table we need."),
    ])
    assert list(rejected_steps(trajectory)) == [True, False, True, False, False, False]
    assert first_rejected_step(trajectory) == 0  # its reply is the orchestrator's, the tool output is none
    features = node_features(_analysis(trajectory), ("feedback",), with_ground_truth=False)
    columns = {name: column for column, name in enumerate(feature_names(("feedback",)))}
    assert list(features[:, columns["first_rejected"]]) == [1, 0, 0, 0, 0, 0]
    assert list(features[:, columns["after_first_rejection"]]) == [0, 1, 1, 1, 1, 1]
    assert list(features[:, columns["agent_rejected_before_log"]] > 0) == [False, False, True, False, True, False]
    assert features[4, columns["own_turn_share"]] == 1.0  # the Surfer's last of three turns


def test_only_the_question_and_tool_output_ground_a_number_or_a_claim_word():
    from engine.attribution.node_features import node_features

    trajectory = make_trajectory([
        ("Terminal", "observation", "rows: Lyon 513275"),
        ("Analyst", "message", "Lyon has 513275 people and Paris 2161000."),
        ("Checker", "message", "Confirmed, Paris has 2161000 people."),
        ("Analyst", "message", "Final answer: Paris has 2161000 people. TERMINATE"),
    ], query="How many people live in Paris?")
    features = node_features(_analysis(trajectory), ("novelty",), with_ground_truth=False)
    columns = {name: column for column, name in enumerate(feature_names(("novelty",)))}
    assert list(features[:, columns["ungrounded_number_share"]]) == [0.0, 0.5, 1.0, 1.0]  # another agent grounds nothing
    assert list(features[:, columns["first_ungrounded_claimer"]]) == [0, 1, 0, 0]


def test_ranks_within_the_agent_compare_a_step_only_with_its_own_agents_steps():
    from engine.attribution.node_features import node_features

    trajectory = make_trajectory([("A", "message", "a"), ("B", "message", "b"), ("A", "message", "a a"),
                                  ("B", "message", "b b"), ("A", "message", "a a a")])
    features = node_features(_analysis(trajectory), ("own_rank",), with_ground_truth=False)
    position = feature_names(("own_rank",)).index("own_rank_position")
    assert list(features[:, position]) == [0.0, 0.0, 0.5, 1.0, 1.0]


def _analysis(trajectory):
    import numpy as np

    from engine.attribution.features import StepFeatures
    from engine.attribution.pipeline import AttributionConfig, analyse

    n = len(trajectory.steps)
    features = StepFeatures(np.ones(n, bool), np.triu(np.full((n, n), 0.05), 1), np.eye(n, 8, dtype=np.float32),
                            np.linspace(1, 2, n), np.linspace(3, 4, n), np.full(n, 10.0))
    return analyse(trajectory, features, AttributionConfig())
