"""A DAG ordered by step, for the terminal: one row per step (top to bottom, as the run went), the edges drawn as
arcs in a gutter left of the labels (shorter arcs inside), like `git log --graph`. Legible for tens of steps: the
rows scroll to keep the selected step in view, and when the gutter is too narrow for every edge the evidence path is
drawn first, then the heaviest edges that still fit; the rest stay in the node detail.

Used for the attribution Soft-IDG: nodes carry `step`, `agent`, `kind`, `score`, `root`, `on_path`; edges `weight`
and `on_path`."""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from rca_tui.formatting import short_agent

Cell = tuple[str, str]  # (character, style key), as graph_canvas draws
KIND_SHORT = {"thought": "think", "action": "act", "observation": "obs", "tx": "tx"}
BOX = {"NS": "│", "EW": "─", "E": "─", "W": "─", "ES": "┌", "EN": "└", "SW": "┐", "NW": "┘", "ENS": "├",
       "NSW": "┤", "ENW": "┴", "ESW": "┬", "ENSW": "┼", "N": "│", "S": "│"}
RANK = {"edge": 0, "focus": 1, "path": 2}
"""Where arcs cross, the cell takes the style of the more important one."""
MAX_TRACKS = 12
"""More arcs side by side than this are a thicket, not a picture."""
FULL_NAMES_FROM = 70
"""Columns from which labels carry the agents' full names (`data_detective`, not `data`)."""


@dataclass(frozen=True)
class Arc:
    source: int  # row of the earlier step
    target: int  # row of the later step
    track: int   # 0 = nearest the labels
    style: str   # path, focus (an edge of the selected step) or edge


@dataclass(frozen=True)
class StepDrawing:
    grid: list[list[Cell]]
    top: int          # first step row shown
    rows: int         # steps in the graph
    arcs: int         # edges drawn
    edges: int        # edges in the graph


def step_order(graph: nx.DiGraph) -> list[str]:
    return sorted(graph, key=lambda n: (graph.nodes[n].get("step", 0), n))


def draw_steps(graph: nx.DiGraph, width: int, height: int, selected: str | None) -> StepDrawing:
    nodes = step_order(graph)
    row_of = {node: row for row, node in enumerate(nodes)}
    full = width >= FULL_NAMES_FROM
    labels = {node: _label(graph.nodes[node], node == selected, full) for node in nodes}
    label_width = max((len(label) + len(notes) for label, notes in labels.values()), default=0)
    gutter = max(3, width - label_width)
    arcs = choose_arcs(graph, row_of, max(1, min(MAX_TRACKS, (gutter - 1) // 2)), selected)
    gutter = min(gutter, 2 * max((arc.track for arc in arcs), default=0) + 3)
    grid: list[list[Cell]] = [[(" ", "")] * width for _ in range(len(nodes))]
    _draw_arcs(grid, arcs, gutter)
    for node, row in row_of.items():
        _draw_label(grid, row, gutter, *labels[node], graph.nodes[node])
    top = window_top(row_of.get(selected, 0), len(nodes), height)
    return StepDrawing(grid[top:top + height], top, len(nodes), len(arcs), graph.number_of_edges())


def window_top(row: int, rows: int, height: int) -> int:
    """The first row shown: the selected row kept in view, near the middle when the graph is taller than the view."""
    return max(0, min(row - height // 2, rows - height))


def choose_arcs(graph: nx.DiGraph, row_of: dict[str, int], tracks: int, selected: str | None = None) -> list[Arc]:
    """Which edges to draw, in this order while tracks are free: the evidence path, the selected step's edges, then
    each step's strongest in-edge (a skeleton of who fed whom), heaviest first; each on the innermost free track.
    The chosen arcs are then laid out again shortest first (nested, fewer crossings) when that fits."""
    strongest = {}
    for source, target, weight in graph.edges(data="weight"):
        if target not in strongest or (weight or 0.0) > (graph.edges[strongest[target], target]["weight"] or 0.0):
            strongest[target] = source

    def priority(edge) -> tuple | None:
        source, target, data = edge
        group = (0 if data.get("on_path") else 1 if selected in (source, target)
                 else 2 if strongest.get(target) == source else None)
        return None if group is None else (group, -(data.get("weight") or 0.0), row_of[target] - row_of[source])

    edges = sorted((priority(e), e) for e in graph.edges(data=True) if priority(e) is not None)
    spans = [(*sorted((row_of[s], row_of[t])), "path" if d.get("on_path") else "focus" if rank[0] == 1 else "edge")
             for rank, (s, t, d) in edges]  # influence flows forward in time; a stray backward edge still draws
    first = _first_fit(spans, tracks, keep_going=True)
    nested = _first_fit(sorted((a.source, a.target, a.style) for a in first), tracks, keep_going=False,
                        shortest_first=True)
    return nested if nested is not None else first


def _first_fit(spans, tracks: int, keep_going: bool, shortest_first: bool = False) -> list[Arc] | None:
    if shortest_first:
        spans = sorted(spans, key=lambda s: (s[1] - s[0], s[0]))
    used: list[list[tuple[int, int]]] = [[] for _ in range(tracks)]
    arcs = []
    for source, target, style in spans:
        track = next((t for t in range(tracks) if all(target < a or b < source for a, b in used[t])), None)
        if track is None:
            if keep_going:
                continue
            return None
        used[track].append((source, target))
        arcs.append(Arc(source, target, track, style))
    return arcs


def _draw_arcs(grid: list[list[Cell]], arcs: list[Arc], gutter: int) -> None:
    directions: dict[tuple[int, int], set[str]] = {}
    styles: dict[tuple[int, int], str] = {}

    def mark(x: int, y: int, *dirs: str, style: str) -> None:
        directions.setdefault((x, y), set()).update(dirs)
        if RANK[style] > RANK.get(styles.get((x, y)), -1):
            styles[(x, y)] = style

    targets = set()
    for arc in arcs:
        style = arc.style
        x = gutter - 3 - 2 * arc.track
        mark(x, arc.source, "S", "E", style=style)
        mark(x, arc.target, "N", "E", style=style)
        for y in range(arc.source + 1, arc.target):
            mark(x, y, "N", "S", style=style)
        for y in (arc.source, arc.target):
            for stub in range(x + 1, gutter - 1):
                mark(stub, y, "E", "W", style=style)
            mark(gutter - 1, y, "W", style=style)
        targets.add(arc.target)
    for (x, y), dirs in directions.items():
        if 0 <= x < len(grid[0]):
            char = "▶" if x == gutter - 1 and y in targets else BOX["".join(sorted(dirs))]
            grid[y][x] = (char, styles[(x, y)])


def score_key(score: float) -> str:
    return "high" if score >= 0.7 else ("mid" if score >= 0.4 else "low")


def _label(attrs: dict, selected: bool, full: bool) -> tuple[str, str]:
    """`›#11  data_detective      act   0.14` and its notes (` blamed injected failure`)."""
    agent = attrs.get("agent", "?") if full else short_agent(attrs.get("agent", "?"))
    kind = KIND_SHORT.get(attrs.get("kind", ""), attrs.get("kind", "")[:5])
    score = f"{attrs['score']:.2f}" if attrs.get("scored", True) else "  - "
    label = f"{'›' if selected else ' '}#{attrs.get('seq', attrs.get('step', 0)):<3} {agent:<{19 if full else 11}} {kind:<5} {score}"
    notes = [note for note, on in (("blamed", attrs.get("root")), ("injected", attrs.get("label")),
                                   ("failure", attrs.get("failure"))) if on]
    return label, "".join(f" {note}" for note in notes)


def _draw_label(grid: list[list[Cell]], row: int, x: int, label: str, notes: str, attrs: dict) -> None:
    style = "root" if attrs.get("root") else score_key(attrs["score"])
    cells = [(char, "path" if 1 <= offset <= 4 and attrs.get("on_path") and not attrs.get("root") else style)
             for offset, char in enumerate(label)]
    cells += [(char, "root" if attrs.get("root") else "mid") for char in notes]
    for offset, cell in enumerate(cells):
        if 0 <= x + offset < len(grid[row]):
            grid[row][x + offset] = cell
