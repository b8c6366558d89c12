"""The grounding audit: readings and maps an agent reports against what the run's own tool outputs showed."""
from __future__ import annotations

from engine.attribution.grounding import audit
from engine.attribution.schema import trajectory_from_dict, trajectory_to_dict
from tests.unit.attribution.conftest import make_trajectory

OVERVIEW = ('Observation from anomaly_overview: {"rows": [{"entity": "cart", "score": 3.434, "summary": "latency 0.463 '
            '(normal 0.0249)"}, {"entity": "email", "score": 1.504, "summary": "cpu 2.88 (normal 1.26)"}]}')
DEPENDENCIES = ('Observation from dependencies: {"direct": ["cart", "email"], "direction": "downstream", '
                '"entity": "front", "indirect": ["db"]}')


def test_readings_copied_from_the_tools_are_grounded_and_readings_moved_to_another_entity_are_not():
    trajectory = make_trajectory([
        ("detective", "observation", OVERVIEW),
        ("detective", "action", 'Answer: {"findings": [{"entity": "cart", "score": 3.43, "summary": "latency 0.463"}]}'),
        ("oracle", "thought", "email scores 3.434, cart only 1.504."),
        ("oracle", "action", "cart deviates 12.75 from its baseline; email 8.125"),
    ], query="Find the root cause: alert on front")
    grounding = audit(trajectory)
    assert list(grounding.pairs[1:]) == [2, 2, 2]
    assert grounding.misattributed[1] == 0 and grounding.unseen[1] == 0  # 3.43 rounds the 3.434 shown for cart
    assert grounding.misattributed[2] == 1  # email's reading is cart's (cart's 1.504 is email's: what it is about)
    assert grounding.misattributed[3] == 0 and grounding.unseen[3] == 2  # figures no tool showed
    assert grounding.first_divergence() == 2


def test_a_map_that_leaves_out_or_adds_what_the_topology_tool_showed_diverges():
    honest = '{"downstream": {"front": ["cart", "email", "db"]}}'
    misread = '{"downstream": {"front": ["email", "db", "search"]}}'
    trajectory = make_trajectory([
        ("explorer", "observation", DEPENDENCIES),
        ("explorer", "action", f"Answer: {honest}"),
        ("explorer", "action", f"Answer: {misread}"),
    ])
    grounding = audit(trajectory)
    assert (grounding.dropped[1], grounding.unsupported[1]) == (0, 0)
    assert (grounding.dropped[2], grounding.unsupported[2]) == (1, 1)  # cart dropped, search never shown
    assert grounding.first_divergence() == 2


def test_a_run_whose_tools_name_no_entity_has_nothing_to_audit():
    trajectory = make_trajectory([("Terminal", "observation", "exitcode: 0, population 2,102,650"),
                                  ("Assistant", "message", "The population is 2,200,000.")])
    grounding = audit(trajectory)
    assert not grounding.pairs.any() and grounding.first_divergence() == -1


def test_a_trajectory_written_out_and_read_back_is_the_same_one():
    trajectory = make_trajectory([("explorer", "observation", DEPENDENCIES), ("explorer", "action", "Answer: {}")],
                                 when=1, who="explorer")
    again = trajectory_from_dict(trajectory_to_dict(trajectory))
    assert again == trajectory and again.content_key() == trajectory.content_key()


def test_a_share_of_the_top_score_is_derived_not_a_reading():
    trajectory = make_trajectory([("detective", "observation", OVERVIEW),
                                  ("detective", "action", "cart leads latency (100% of the top score) at 0.463")])
    assert audit(trajectory).pairs[1] == 1


RANKING = ('Observation from rank_candidates: {"candidates": [{"entity": "cart", "evidence": {"latency": 0.7745}, '
           '"reason": "cart: latency 0.463, while its downstream email (100.0% success, 126 ms) stayed normal", '
           '"score": 0.2503}, {"entity": "email", "reason": "email: cpu 2.88 (normal 1.26)", "score": 0.1414}, '
           '{"entity": "db", "reason": "db: 3.5 spans/min are the deep')  # cut short, as long outputs are


def test_a_ranking_rows_numbers_are_its_entitys_though_its_reason_names_another_entity_before_them():
    trajectory = make_trajectory([
        ("oracle", "observation", RANKING),
        ("oracle", "thought", "cart scores 0.25, highest of 3."),
        ("oracle", "tx", "Vote for: email scores 0.14 (best 0.25)"),
        ("oracle", "tx", "Vote for: cart scores 0.14"),
    ])
    grounding = audit(trajectory)
    assert list(grounding.misattributed[1:]) == [0, 0, 1]  # email's 0.1414 is not cart's
    assert list(grounding.unseen[1:]) == [0, 0, 0]
    assert grounding.first_divergence() == 3


def test_one_reading_no_tool_showed_makes_a_report_diverge_among_readings_copied_right():
    claim = ('Answer: {"candidates": [{"entity": "email", "reason": "email: cpu 2.88 (normal 1.26)", '
             '"score": 0.3481}]}')  # a score for email that no ranking gave
    trajectory = make_trajectory([("oracle", "observation", RANKING), ("oracle", "action", claim)])
    grounding = audit(trajectory)
    assert (grounding.pairs[1], grounding.misattributed[1], grounding.unseen[1]) == (3, 0, 1)
    assert grounding.first_divergence() == 1


def test_a_unix_time_is_a_date_not_a_reading():
    alert = ('Answer: {"alert": {"entity": "front", "time": 1674989805.0, "time_text": "2023-01-29 10:56:45"}, '
             '"summary": "latency P90 up to 667 ms"}')
    trajectory = make_trajectory([("receiver", "action", alert), ("explorer", "observation", DEPENDENCIES)],
                                 query="Find the root cause: alert on front: latency P90 up to 667 ms")
    grounding = audit(trajectory)
    assert grounding.pairs[0] == 1 and grounding.first_divergence() == -1
