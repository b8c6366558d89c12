"""The Soft-IDG as people see it: one node per step (agent, kind, text, score and its parts, strongest in-edges),
the evidence path, who / when and the failure steps. The DOT / HTML export, the ``attribution`` run event and the
console's graph all read this one view; ``to_dict`` / ``from_dict`` carry it through JSON.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.attribution.pipeline import Attribution
from engine.attribution.schema import Trajectory


@dataclass(frozen=True)
class InEdge:
    source: int
    weight: float


@dataclass(frozen=True)
class StepNode:
    step: int
    agent: str
    kind: str
    text: str
    parts: dict[str, float | None]
    """The step's score and what it is made of (anomaly, influence, ...); None where not finite."""
    in_edges: list[InEdge]
    """Strongest first."""

    @property
    def score(self) -> float | None:
        """The ranking score; None for a step that is never a candidate (or not scored)."""
        return self.parts.get("score")


@dataclass(frozen=True)
class SoftIdgView:
    trajectory: str
    who: str | None
    when: int | None
    evidence_path: list[int]
    failure_steps: list[int]
    nodes: list[StepNode]

    def edges(self) -> list[tuple[int, int, float]]:
        """(source, target, weight) of every kept in-edge, in node order."""
        return [(edge.source, node.step, edge.weight) for node in self.nodes for edge in node.in_edges]

    def to_dict(self) -> dict[str, Any]:
        return {"trajectory": self.trajectory, "who": self.who, "when": self.when,
                "evidence_path": self.evidence_path, "failure_steps": self.failure_steps,
                "nodes": [{"step": n.step, "agent": n.agent, "kind": n.kind, "text": n.text, "parts": n.parts,
                           "in_edges": [{"from": e.source, "weight": e.weight} for e in n.in_edges]}
                          for n in self.nodes]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SoftIdgView:
        """Reads ``to_dict``'s output, and the graphs older attribution events stored: nodes with a bare ``score``
        and no in-edges, the edges in a list of their own."""
        stored_edges: dict[int, list[InEdge]] = {}
        for edge in data.get("edges", []):
            stored_edges.setdefault(int(edge["to"]), []).append(InEdge(int(edge["from"]), edge.get("weight")))
        nodes = [_node(row, stored_edges) for row in data.get("nodes", [])]
        when = data.get("when")
        return cls(data.get("trajectory", ""), data.get("who"), None if when is None else int(when),
                   [int(step) for step in data.get("evidence_path", [])],
                   [int(step) for step in data.get("failure_steps") or []], nodes)


def soft_idg_view(trajectory: Trajectory, attribution: Attribution, max_in_edges: int | None = 3,
                  text_chars: int = 160) -> SoftIdgView:
    """The view of one attribution: ``max_in_edges`` strongest in-edges per step (None: all of them), each step's
    text cut to ``text_chars``."""
    weights = attribution.graph
    nodes = []
    for step in trajectory.steps:
        sources = sorted(np.nonzero(weights[:, step.index])[0], key=lambda i: -weights[i, step.index])
        nodes.append(StepNode(
            step=step.index, agent=step.agent, kind=step.kind, text=step.content[:text_chars],
            parts={name: _finite(values[step.index]) for name, values in attribution.parts.items()},
            in_edges=[InEdge(int(i), round(float(weights[i, step.index]), 4)) for i in sources[:max_in_edges]],
        ))
    return SoftIdgView(trajectory.id, attribution.who, attribution.when, list(attribution.evidence_path),
                       [int(step) for step in attribution.failure_steps], nodes)


def _node(row: Mapping[str, Any], stored_edges: dict[int, list[InEdge]]) -> StepNode:
    step = int(row["step"])
    parts = row.get("parts", {"score": row.get("score")})
    in_edges = [InEdge(int(e["from"]), e.get("weight")) for e in row.get("in_edges", [])] or stored_edges.get(step, [])
    return StepNode(step, row.get("agent") or "?", row.get("kind") or "", row.get("text") or "", parts, in_edges)


def _finite(value: float) -> float | None:
    return round(float(value), 4) if np.isfinite(value) else None
