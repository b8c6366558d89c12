"""View models of a run's graphs: the fault web the agents built and the attribution's Soft-IDG, as networkx
graphs whose node and edge attributes the console's graph view draws; and how to lay the fault web out for a
terminal (a layered plan, or call rows when no drawing fits)."""
from __future__ import annotations

from dataclasses import dataclass
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


# ---- who calls whom, for a terminal: a layered drawing's plan, or rows when no drawing fits -------------------
@dataclass(frozen=True)
class LayeredPlan:
    """A Sugiyama-style plan of a DAG: `layers` left to right, each ordered top to bottom to keep edges from
    crossing (barycentre sweeps); an edge spanning several layers passes through `dummies` (one per layer it
    crosses), so every hop in `hops` joins neighbouring layers. `hops` keep the real edge they belong to."""
    layers: list[list[str]]
    hops: list[tuple[str, str, tuple[str, str]]]  # (from, to, the real edge)
    dummies: frozenset[str]


def layered_plan(graph: nx.DiGraph, sweeps: int = 4) -> LayeredPlan | None:
    """Longest-path layers, dummy nodes on long edges, barycentre ordering; None for a graph with a cycle (the
    call rows show it instead)."""
    if not nx.is_directed_acyclic_graph(graph):
        return None
    order = list(nx.topological_sort(graph))
    layer_of: dict[str, int] = {}
    for node in order:
        layer_of[node] = max((layer_of[p] + 1 for p in graph.predecessors(node)), default=0)
    for node in reversed(order):  # a caller nobody calls sits just left of its nearest callee, not at the far left
        if graph.in_degree(node) == 0 and graph.out_degree(node):
            layer_of[node] = min(layer_of[s] for s in graph.successors(node)) - 1
    layers: list[list[str]] = [[] for _ in range(max(layer_of.values(), default=-1) + 1)]
    for node in sorted(graph, key=lambda n: (-graph.nodes[n].get("score", 0.0), n)):
        layers[layer_of[node]].append(node)
    hops, dummies = [], set()
    for source, target in graph.edges:
        chain = [source] + [f"\0{source}\0{target}\0{layer}" for layer in range(layer_of[source] + 1,
                                                                                layer_of[target])] + [target]
        for layer, dummy in enumerate(chain[1:-1], start=layer_of[source] + 1):
            layers[layer].append(dummy)
            dummies.add(dummy)
        hops += [(a, b, (source, target)) for a, b in zip(chain, chain[1:])]
    _order_by_barycentre(layers, hops, sweeps)
    return LayeredPlan(layers, hops, frozenset(dummies))


def _order_by_barycentre(layers: list[list[str]], hops: list[tuple], sweeps: int) -> None:
    """Each layer sorted by the mean row of its neighbours in the layer before (downward sweeps) or after
    (upward), nodes without neighbours there keeping their row."""
    before: dict[str, list[str]] = {}
    after: dict[str, list[str]] = {}
    for a, b, _ in hops:
        after.setdefault(a, []).append(b)
        before.setdefault(b, []).append(a)
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        indices = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for index in indices:
            reference = {node: row for row, node in enumerate(layers[index - 1 if downward else index + 1])}
            neighbours = before if downward else after

            def centre(item: tuple[int, str]) -> float:
                row, node = item
                rows = [reference[n] for n in neighbours.get(node, []) if n in reference]
                return sum(rows) / len(rows) if rows else row

            layers[index] = [node for _, node in sorted(enumerate(layers[index]), key=lambda i: (centre(i), i[0]))]


@dataclass(frozen=True)
class CallRow:
    """One edge of the fault web as a row: `caller → callee` with both anomaly scores; `on_path` when it is a hop
    of the agreed propagation path. A node with no edge is a row with `callee` None."""
    caller: str
    callee: str | None
    on_path: bool


def call_rows(graph: nx.DiGraph) -> list[CallRow]:
    """The propagation path's hops first (in path order), then every other edge by the caller's score, then the
    nodes that call no one and are called by no one."""
    path = graph.graph.get("path") or []
    hops = list(zip(path, path[1:]))
    def rank(node: str) -> tuple[float, str]:
        return -graph.nodes[node].get("score", 0.0), node

    others = sorted((edge for edge in graph.edges if edge not in hops), key=lambda e: (rank(e[0]), rank(e[1])))
    rows = [CallRow(a, b, True) for a, b in hops if graph.has_edge(a, b)] + [CallRow(a, b, False) for a, b in others]
    alone = sorted((n for n in graph if graph.degree(n) == 0), key=rank)
    return rows + [CallRow(node, None, False) for node in alone]
