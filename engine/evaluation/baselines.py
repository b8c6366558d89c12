"""Trivial baselines printed next to every evaluation: a figure means something only if it beats these.

Every baseline returns a :class:`Prediction` per test trajectory. Steps of kind ``query`` (the question) and
``observation`` (tool output) are not candidates, as for the tracers.
"""
from __future__ import annotations

import random
from collections import Counter

from engine.attribution.schema import Trajectory
from engine.evaluation.metrics import Prediction

_NOT_CANDIDATES = ("query", "observation")


def candidate_steps(trajectory: Trajectory) -> list[int]:
    steps = [s.index for s in trajectory.steps if s.kind not in _NOT_CANDIDATES]
    return steps or [s.index for s in trajectory.steps]


def majority_agent(train: list[Trajectory], test: list[Trajectory]) -> list[Prediction]:
    """The most common gold agent of the training fold; when = that agent's first step (else the first step)."""
    counts = Counter(t.label.who for t in train if t.label and t.label.who)
    agent = counts.most_common(1)[0][0] if counts else ""
    return [_agent_prediction(t, agent) for t in test]


def most_frequent_speaker(test: list[Trajectory]) -> list[Prediction]:
    """The agent with the most candidate steps in the trajectory; when = its first step."""
    predictions = []
    for trajectory in test:
        counts = Counter(trajectory.steps[i].agent for i in candidate_steps(trajectory))
        predictions.append(_agent_prediction(trajectory, counts.most_common(1)[0][0]))
    return predictions


def first_step(test: list[Trajectory]) -> list[Prediction]:
    return [step_prediction(t, candidate_steps(t)[0]) for t in test]


def random_step(test: list[Trajectory], seed: int) -> list[Prediction]:
    generator = random.Random(seed)
    return [step_prediction(t, generator.choice(candidate_steps(t))) for t in test]


def all_baselines(train: list[Trajectory], test: list[Trajectory], seed: int) -> dict[str, list[Prediction]]:
    return {
        "majority_agent(train)": majority_agent(train, test),
        "most_frequent_speaker": most_frequent_speaker(test),
        "first_step": first_step(test),
        f"random_step(seed={seed})": random_step(test, seed),
    }


def _agent_prediction(trajectory: Trajectory, agent: str) -> Prediction:
    steps = [i for i in candidate_steps(trajectory) if trajectory.steps[i].agent == agent]
    when = steps[0] if steps else candidate_steps(trajectory)[0]
    return Prediction(trajectory.id, agent, when, steps or [when])


def step_prediction(trajectory: Trajectory, when: int) -> Prediction:
    return Prediction(trajectory.id, trajectory.steps[when].agent, when, [when])
