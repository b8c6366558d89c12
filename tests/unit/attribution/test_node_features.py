"""Text signals of the learned tracer that say where a claim came from."""
from __future__ import annotations

from engine.attribution.node_features import (
    dissenting_votes,
    echo_shares,
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
