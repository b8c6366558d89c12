"""View models of a run's graphs: the fault web the agents built and the attribution's Soft-IDG, as networkx
graphs whose node and edge attributes the console's graph view draws."""
from __future__ import annotations

from typing import Any

import networkx as nx

from engine.attribution.view import SoftIdgView


def fault_graph(graph_state: dict[str, Any]) -> nx.DiGraph:
    """Nodes carry `score`, `reason`, `root`, `on_path`; edges carry `on_path`. Any other graph kind (the
    attribution Soft-IDG) can be drawn by the same view if it sets the same attributes."""
    graph = nx.DiGraph(kind=graph_state.get("kind", "fault_web"), path=list(graph_state.get("path") or []))
    for candidate in graph_state.get("candidates", []):
        graph.add_node(candidate["entity"], score=float(candidate.get("score", 0.0)),
                       reason=candidate.get("reason", ""))
    for path in graph_state.get("fault_web", {}).values():
        for source, target in zip(path, path[1:]):
            graph.add_edge(source, target)
    path = graph.graph["path"]
    on_path_edges = set(zip(path, path[1:]))
    for node, data in graph.nodes(data=True):
        data.setdefault("score", 0.0)
        data.setdefault("reason", "")
        data["root"] = node == graph_state.get("root_cause")
        data["on_path"] = node in path
    for source, target, data in graph.edges(data=True):
        data["on_path"] = (source, target) in on_path_edges
    return graph


def step_node(step: int, agent: str | None) -> str:
    """A Soft-IDG node's name: `#12 data_detective`."""
    return f"#{step} {agent or '?'}"


def soft_idg_graph(attribution: dict[str, Any] | None, seqs: list[int] | None = None) -> nx.DiGraph:
    """An `attribution` event's payload as `fault_graph` shapes a graph (kind "soft_idg"): one node per step,
    named by `step_node`, with `step`, `agent`, `kind`, `score`, `reason` (the step's text), `root` (the blamed
    step), `on_path` (the evidence path), `failure` (where the failure shows), `label` (the injected fault's step);
    edges carry `weight` (None for an evidence-path hop outside the stored top in-edges) and `on_path`. The graph
    keeps `who`, `when`, `tx`, `slashed`, `consensus_wrong` and `label`. Empty without an attribution.
    `seqs` (step index → event number, `navigation.step_seqs`) gives each node `seq`: the `#` the agent log and
    Replay show for that step, so both panes speak of one numbering."""
    payload = attribution or {}
    label = payload.get("label") or {}
    when = payload.get("when")
    graph = nx.DiGraph(kind="soft_idg", who=payload.get("who"), when=when, tx=payload.get("tx"),
                       when_seq=_seq_of(when, seqs), slashed=payload.get("slashed"),
                       consensus_wrong=payload.get("consensus_wrong"), label=payload.get("label"), path=[])
    if not payload:
        return graph
    view = event_view(payload)
    names = {node.step: step_node(node.step, node.agent) for node in view.nodes}
    for node in view.nodes:
        graph.add_node(names[node.step], step=node.step, agent=node.agent, kind=node.kind,
                       score=float(node.score) if node.score is not None else 0.0, scored=node.score is not None,
                       reason=node.text, root=node.step == view.when, on_path=node.step in view.evidence_path,
                       failure=node.step in view.failure_steps, label=node.step == label.get("when"),
                       seq=_seq_of(node.step, seqs))
    for source, target, weight in view.edges():
        if source in names and target in names:
            graph.add_edge(names[source], names[target], weight=weight, on_path=False)
    path = [names[step] for step in view.evidence_path]
    for source, target in zip(path, path[1:]):
        if not graph.has_edge(source, target):
            graph.add_edge(source, target, weight=None)
        graph.edges[source, target]["on_path"] = True
    graph.graph["path"] = path
    return graph


def _seq_of(step: int | None, seqs: list[int] | None) -> int | None:
    """The event number of a trajectory step (the step itself when the mapping does not reach it)."""
    return seqs[step] if seqs is not None and step is not None and 0 <= step < len(seqs) else step


def event_view(payload: dict) -> SoftIdgView:
    """The Soft-IDG an ``attribution`` event carries. Older events stored bare nodes and edges, or (older still)
    no graph at all: then the evidence path's rows stand in for the nodes, so the path still draws."""
    path_rows = payload.get("evidence_path") or []
    recorded = payload.get("graph") or {"nodes": path_rows}
    return SoftIdgView.from_dict({"who": payload.get("who"), "when": payload.get("when"),
                                  "evidence_path": [row["step"] for row in path_rows],
                                  "failure_steps": payload.get("failure_steps"), **recorded})
