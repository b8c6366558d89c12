"""Replays recorded decisions: for tests, and to re-run a past run without calling a model again."""
from __future__ import annotations

from collections import defaultdict, deque
from typing import Any, Iterable

from engine.reasoners.base import ReasonerError, StepDecision, StepRequest, VoteDecision, VoteRequest


class ScriptedReasoner:
    name = "scripted"

    def __init__(self, steps: dict[str, list[dict[str, Any]]], votes: dict[str, list[dict[str, Any]]]):
        self._steps = {role: deque(items) for role, items in steps.items()}
        self._votes = {role: deque(items) for role, items in votes.items()}

    @classmethod
    def from_events(cls, events: Iterable) -> ScriptedReasoner:
        """Rebuild the decisions of a recorded run from its agent_thought / agent_action / tx events."""
        steps: dict[str, list[dict]] = defaultdict(list)
        votes: dict[str, list[dict]] = defaultdict(list)
        thoughts: dict[tuple[str, int], str] = {}
        for event in events:
            payload = event.payload
            if event.kind == "agent_thought":
                thoughts[(payload["agent"], payload["step"])] = payload["thought"]
            elif event.kind == "agent_action":
                thought = thoughts.get((payload["agent"], payload["step"]), "")
                if payload["action"] == "answer":
                    steps[payload["agent"]].append({"thought": thought, "answer": payload["answer"]})
                else:
                    steps[payload["agent"]].append({"thought": thought, "tool": payload["action"],
                                                    "args": payload.get("args", {})})
            elif event.kind == "tx_submitted" and payload["tx_type"] == "gov.vote":
                votes[payload["agent"]].append({"option": payload["payload"]["option"],
                                                "reason": payload["payload"].get("reason", "")})
        return cls(steps, votes)

    def next_step(self, request: StepRequest) -> StepDecision:
        queue = self._steps.get(request.role)
        if not queue:
            raise ReasonerError(f"the script has no more steps for {request.role}")
        item = queue.popleft()
        if "answer" in item:
            return StepDecision(item["thought"], answer=item["answer"])
        return StepDecision(item["thought"], tool=item["tool"], args=item.get("args", {}))

    def vote(self, request: VoteRequest) -> VoteDecision:
        queue = self._votes.get(request.role)
        if not queue:
            raise ReasonerError(f"the script has no more votes for {request.role}")
        item = queue.popleft()
        return VoteDecision(item["option"], item["reason"])
