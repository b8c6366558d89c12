"""View models of a run's graphs: the fault web the agents built and the attribution's Soft-IDG, as networkx
graphs whose node and edge attributes the console's graph view draws."""
from __future__ import annotations

from typing import Any

import networkx as nx


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
    view = payload.get("graph") or {}
    label = payload.get("label") or {}
    when = payload.get("when")
    graph = nx.DiGraph(kind="soft_idg", who=payload.get("who"), when=when, tx=payload.get("tx"),
                       when_seq=seqs[when] if seqs is not None and when is not None and 0 <= when < len(seqs)
                       else when,
                       slashed=payload.get("slashed"), consensus_wrong=payload.get("consensus_wrong"),
                       label=payload.get("label"), path=[])
    if not payload:
        return graph
    path_steps = [int(row["step"]) for row in payload.get("evidence_path", [])]
    failures = {int(step) for step in payload.get("failure_steps") or []}
    names: dict[int, str] = {}
    # older payloads carry no graph: the evidence path's rows alone still draw the path
    for row in [*view.get("nodes", []), *payload.get("evidence_path", [])]:
        step = int(row["step"])
        if step in names:
            continue
        names[step] = step_node(step, row.get("agent"))
        score = row.get("score")
        graph.add_node(names[step], step=step, agent=row.get("agent") or "?", kind=row.get("kind") or "",
                       score=float(score) if score is not None else 0.0, scored=score is not None,
                       reason=row.get("text") or "", root=step == when, on_path=step in path_steps,
                       failure=step in failures, label=step == label.get("when"),
                       seq=seqs[step] if seqs is not None and 0 <= step < len(seqs) else step)
    for edge in view.get("edges", []):
        source, target = names.get(int(edge["from"])), names.get(int(edge["to"]))
        if source and target:
            graph.add_edge(source, target, weight=edge.get("weight"), on_path=False)
    path = [names[step] for step in path_steps]
    for source, target in zip(path, path[1:]):
        if not graph.has_edge(source, target):
            graph.add_edge(source, target, weight=None)
        graph.edges[source, target]["on_path"] = True
    graph.graph["path"] = path
    return graph
