"""Context policies: which earlier steps a step could see, for sources that do not record it (design 6.2).

A policy is written as text so it can travel in configs and CLI options:
``all_history`` | ``sliding_window:K`` | ``role_filtered:AgentA,AgentB``.
"""
from __future__ import annotations

from dataclasses import replace

from engine.attribution.schema import Step, Trajectory

DEFAULT_POLICY = "all_history"


def context_indices(steps: list[Step] | tuple[Step, ...], position: int, policy: str) -> tuple[int, ...]:
    name, _, argument = policy.partition(":")
    if name == "all_history":
        return tuple(range(position))
    if name == "sliding_window":
        window = _positive_int(argument, policy)
        return tuple(range(max(0, position - window), position))
    if name == "role_filtered":
        keep = {agent.strip() for agent in argument.split(",") if agent.strip()}
        return tuple(i for i in range(position) if steps[i].agent in keep or steps[i].kind == "query")
    raise ValueError(f"context policy {policy!r}: expected all_history, sliding_window:K or role_filtered:A,B")


def apply_context_policy(trajectory: Trajectory, policy: str = DEFAULT_POLICY) -> Trajectory:
    """Fill ``context`` of every step that has none; steps whose source gave a context keep it."""
    steps = trajectory.steps
    filled = tuple(
        step if step.context else replace(step, context=context_indices(steps, step.index, policy))
        for step in steps
    )
    return replace(trajectory, steps=filled, meta={**trajectory.meta, "context_policy": policy})


def _positive_int(text: str, policy: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"context policy {policy!r}: the window must be a positive integer")
    return int(text)
