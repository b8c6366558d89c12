"""Agent fault injection: make one agent misbehave at one of its steps, so that runs whose consensus goes wrong
become labelled trajectories (who and when are known) for the attribution tracer.

AGENT:STEP:MODE, STEP counted within the agent's own steps (0 = its first decision). Modes:
- hallucinate:  at that step the agent stops investigating and answers that a decoy entity is the culprit
- misreport:    at that step the agent answers with the decoy's and the true leader's numbers swapped
- vote_against: the agent votes against what its own evidence says
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from engine.agents.roles import ROLE_BY_KEY
from engine.reasoners.base import Reasoner, StepDecision, StepRequest, VoteDecision, VoteRequest

MODES = ("hallucinate", "misreport", "vote_against")
OPPOSITE = {"for": "against", "against": "for", "abstain": "for"}


@dataclass(frozen=True)
class FaultSpec:
    agent: str
    step: int
    mode: str

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"--inject-fault expects AGENT:STEP:MODE, got {text!r}")
        agent, step, mode = parts
        if agent not in ROLE_BY_KEY:
            raise ValueError(f"--inject-fault: unknown agent {agent!r}; agents are {', '.join(ROLE_BY_KEY)}")
        if not step.isdigit():
            raise ValueError(f"--inject-fault: STEP must be a number >= 0, got {step!r}")
        if mode not in MODES:
            raise ValueError(f"--inject-fault: MODE must be one of {', '.join(MODES)}, got {mode!r}")
        return cls(agent, int(step), mode)

    def to_dict(self) -> dict:
        return {"agent": self.agent, "step": self.step, "mode": self.mode}


class FaultyReasoner:
    """Wraps a reasoner; answers exactly as it would, except where the fault strikes."""

    def __init__(self, inner: Reasoner, fault: FaultSpec, decoy: str):
        self.inner, self.fault, self.decoy = inner, fault, decoy
        self.name = inner.name
        self.struck_at: int | None = None  # the agent-local step where the fault took effect

    def next_step(self, request: StepRequest) -> StepDecision:
        decision = self.inner.next_step(request)
        strikes = (request.role == self.fault.agent and self.fault.mode != "vote_against"
                   and self.struck_at is None and (request.step >= self.fault.step or decision.is_final))
        if not strikes:
            return decision
        self.struck_at = request.step
        honest = decision if decision.is_final else StepDecision(decision.thought,
                                                                    answer=_empty_answer(request.role))
        return corrupt(honest, request, self.decoy, self.fault.mode)

    def vote(self, request: VoteRequest) -> VoteDecision:
        decision = self.inner.vote(request)
        if request.role != self.fault.agent or self.fault.mode != "vote_against":
            return decision
        return VoteDecision(OPPOSITE[decision.option], f"I back the opposite: {decision.reason}")


def corrupt(decision: StepDecision, request: StepRequest, decoy: str, mode: str) -> StepDecision:
    answer = copy.deepcopy(decision.answer or {})
    role = request.role
    if role == "probability_oracle":
        answer["candidates"] = _promote(answer.get("candidates", []), decoy, swap=mode == "misreport")
    elif role == "data_detective":
        answer["focus"] = [decoy] + [e for e in answer.get("focus", []) if e != decoy]
        answer["summary"] = f"{decoy}: error rate 100%, latency x20 over baseline; {answer.get('summary') or ''}"
    elif role == "fault_mapper":
        answer["fault_web"] = {decoy: [request.alert["entity"], decoy], **answer.get("fault_web", {})}
    elif role == "dependency_explorer":
        answer["downstream"] = {entity: [] for entity in answer.get("downstream", {})}
    answer["claim"] = f"{decoy} is the root cause"
    return StepDecision(f"{decoy} is clearly the culprit. {decision.thought}", answer=answer)


def _promote(candidates: list[dict], decoy: str, swap: bool) -> list[dict]:
    if not candidates:
        return [{"entity": decoy, "score": 1.0, "reason": f"{decoy}: error rate 100%"}]
    top_score = max(c["score"] for c in candidates)
    decoy_row = next((dict(c) for c in candidates if c["entity"] == decoy), {"entity": decoy, "score": 0.0})
    rest = [dict(c) for c in candidates if c["entity"] != decoy]
    if swap and rest:
        rest[0]["score"], decoy_row["score"] = decoy_row["score"], top_score
    else:
        decoy_row["score"] = round(top_score * 1.5 + 0.1, 4)
    decoy_row["reason"] = f"{decoy}: error rate 100%, latency x20 over baseline"
    return [decoy_row] + rest


EMPTY_VALUES = {"priority": "P3", "subtasks": [], "focus": [], "summary": "", "downstream": {},
                "candidates": [], "fault_web": {}, "repair_steps": []}


def _empty_answer(role: str) -> dict:
    """The answer an agent gives when it stops before finding anything."""
    from engine.reasoners.replies import ANSWER_KEYS

    return {key: EMPTY_VALUES[key] for key in ANSWER_KEYS[role]}
