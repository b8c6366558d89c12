"""The unified trajectory schema every attribution component reads (design 003, section 5).

A trajectory is a list of steps; each step says who spoke (``agent``), what kind of step it was, what it said,
and which earlier steps it could see (``context``). Adapters turn datasets into this shape once; nothing after
them looks at dataset-specific fields (those stay in ``raw``).

An engine run maps onto it directly: one event per step, ``agent`` = the role name, ``kind`` = thought /
action / observation / tx.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

STEP_KINDS = ("query", "thought", "action", "observation", "message", "tx")
"""``query``: the task as asked; ``observation``: a tool / terminal / environment result; ``message``: a turn of
an agent whose kind the source does not say; ``tx``: a ledger transaction of an engine run."""


class TrajectoryError(ValueError):
    """A record that cannot become a trajectory: names the file, the field and what was expected."""

    def __init__(self, source: str, field_name: str, expected: str, got: Any = None) -> None:
        self.source = source
        self.field_name = field_name
        self.expected = expected
        got_text = "" if got is None else f", got {_short(got)}"
        super().__init__(f"{source}: field '{field_name}': expected {expected}{got_text}")


@dataclass(frozen=True)
class Step:
    index: int
    agent: str
    kind: str
    content: str
    speaker: str = ""
    """The speaker label exactly as the source wrote it (e.g. "Orchestrator (thought)")."""
    context: tuple[int, ...] = ()
    """Indices of the earlier steps this step could see (filled by a context policy when the source has none)."""
    events: tuple[dict[str, Any], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Label:
    who: str | None = None
    when: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Trajectory:
    id: str
    query: str
    steps: tuple[Step, ...]
    label: Label | None = None
    ground_truth: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def agents(self) -> list[str]:
        """Distinct agents in order of first appearance."""
        return list(dict.fromkeys(step.agent for step in self.steps))

    def content_key(self) -> str:
        """A hash of everything the white-box features read (not the label, not the raw record)."""
        payload = [self.query] + [[s.agent, s.kind, s.content, list(s.context)] for s in self.steps]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:24]


def trajectory_to_dict(trajectory: Trajectory) -> dict[str, Any]:
    """The trajectory as JSON-ready data; :func:`trajectory_from_dict` gives back an equal one (same content key)."""
    label = trajectory.label
    return {"id": trajectory.id, "query": trajectory.query, "ground_truth": trajectory.ground_truth,
            "label": None if label is None else {"who": label.who, "when": label.when, "reason": label.reason},
            "meta": trajectory.meta, "raw": trajectory.raw,
            "steps": [{"agent": s.agent, "kind": s.kind, "content": s.content, "speaker": s.speaker,
                       "context": list(s.context), "events": list(s.events), "raw": s.raw} for s in trajectory.steps]}


def trajectory_from_dict(data: dict[str, Any]) -> Trajectory:
    label = data.get("label")
    steps = tuple(Step(index=i, agent=s["agent"], kind=s["kind"], content=s["content"], speaker=s.get("speaker", ""),
                       context=tuple(s.get("context", ())), events=tuple(s.get("events", ())), raw=s.get("raw", {}))
                  for i, s in enumerate(data["steps"]))
    return Trajectory(id=data["id"], query=data["query"], steps=steps,
                      label=None if label is None else Label(**label), ground_truth=data.get("ground_truth"),
                      meta=data.get("meta", {}), raw=data.get("raw", {}))


def validate(trajectory: Trajectory, source: str | None = None) -> Trajectory:
    """Check the invariants the algorithms rely on; raise :class:`TrajectoryError` on the first violation."""
    where = source or trajectory.meta.get("source", trajectory.id)
    if not trajectory.steps:
        raise TrajectoryError(where, "steps", "at least one step", [])
    for position, step in enumerate(trajectory.steps):
        _validate_step(step, position, where)
    label = trajectory.label
    if label is not None and label.when is not None and not 0 <= label.when < len(trajectory.steps):
        raise TrajectoryError(where, "label.when", f"a step index in 0..{len(trajectory.steps) - 1}", label.when)
    return trajectory


def _validate_step(step: Step, position: int, where: str) -> None:
    name = f"steps[{position}]"
    if step.index != position:
        raise TrajectoryError(where, f"{name}.index", f"{position} (steps in order, 0-based)", step.index)
    if not step.agent:
        raise TrajectoryError(where, f"{name}.agent", "a non-empty agent name", step.agent)
    if step.kind not in STEP_KINDS:
        raise TrajectoryError(where, f"{name}.kind", f"one of {', '.join(STEP_KINDS)}", step.kind)
    if not isinstance(step.content, str):
        raise TrajectoryError(where, f"{name}.content", "a string", type(step.content).__name__)
    if any(not 0 <= ref < position for ref in step.context):
        raise TrajectoryError(where, f"{name}.context", f"indices of earlier steps (< {position})", step.context)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
