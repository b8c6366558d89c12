"""What every reasoning backend answers: the next ReAct step of an agent, and an agent's vote."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class ReasonerError(RuntimeError):
    """The backend could not give a usable answer (endpoint down, timeout, malformed or off-schema reply)."""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args: dict[str, str]  # argument -> description


@dataclass(frozen=True)
class Observation:
    tool: str
    args: dict[str, Any]
    result: Any


@dataclass
class StepRequest:
    """What an agent knows when it chooses its next step."""

    role: str
    duty: str
    task: str
    alert: dict[str, Any]
    entities: list[str]
    tools: list[ToolSpec]
    history: list[tuple[str, Observation]] = field(default_factory=list)  # (thought, observation)
    shared: dict[str, Any] = field(default_factory=dict)  # answers of earlier agents
    step: int = 0
    max_steps: int = 20


@dataclass(frozen=True)
class StepDecision:
    """Either a tool call (tool + args) or a final answer; always a thought."""

    thought: str
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] | None = None

    @property
    def is_final(self) -> bool:
        return self.answer is not None


@dataclass
class VoteRequest:
    role: str
    proposal: dict[str, Any]  # root_cause, reason, proposer
    evidence: list[tuple[str, Observation]]  # the voter's own observations
    shared: dict[str, Any]


@dataclass(frozen=True)
class VoteDecision:
    option: str  # for | against | abstain
    reason: str


class Reasoner(Protocol):
    name: str

    def next_step(self, request: StepRequest) -> StepDecision: ...

    def vote(self, request: VoteRequest) -> VoteDecision: ...
