from __future__ import annotations

from engine.evaluation.baselines import first_step, majority_agent, most_frequent_speaker, random_step
from engine.evaluation.metrics import Gold, Prediction, who_when_scores
from tests.unit.attribution.conftest import make_trajectory


def test_exact_match_differs_from_the_upstream_substring_match():
    predictions = [Prediction("a", "Verification_Expert", 10, [10, 1, 2]), Prediction("b", "websurfer", 3, [3])]
    golds = [Gold("Expert", 1), Gold("WebSurfer", 3)]
    summary = who_when_scores(predictions, golds)
    assert summary["when"] == 0.5 and summary["when_substring_upstream"] == 1.0
    assert summary["who"] == 0.5 and summary["who_substring_upstream"] == 0.5
    assert summary["when_top3"] == 1.0


def trajectories():
    return [
        make_trajectory([("human", "query", "q"), ("Orchestrator", "thought", "t"), ("WebSurfer", "message", "w"),
                         ("WebSurfer", "message", "w2")], when=2, who="WebSurfer", trajectory_id="1"),
        make_trajectory([("human", "query", "q"), ("Orchestrator", "thought", "t"), ("Orchestrator", "thought", "t"),
                         ("WebSurfer", "message", "w")], when=1, who="Orchestrator", trajectory_id="2"),
        make_trajectory([("Coder", "message", "c"), ("Computer_terminal", "observation", "o"),
                         ("Computer_terminal", "observation", "o"), ("Checker", "message", "k")],
                        when=0, who="Coder", trajectory_id="3"),
    ]


def test_baselines():
    train, test = trajectories()[:1], trajectories()
    assert [(p.who, p.when) for p in majority_agent(train, test)][:2] == [("WebSurfer", 2), ("WebSurfer", 3)]
    assert [p.who for p in most_frequent_speaker(test)] == ["WebSurfer", "Orchestrator", "Coder"]
    assert [p.when for p in first_step(test)] == [1, 1, 0]  # the question is not a step anyone can get wrong
    assert [p.when for p in random_step(test, seed=3)] == [p.when for p in random_step(test, seed=3)]
    assert all(p.when not in (1, 2) for p in random_step(test, seed=5)[2:])  # never the terminal's output
