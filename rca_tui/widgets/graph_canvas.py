"""A directed graph drawn in the terminal: layered left to right, edges routed with box lines, nodes coloured by
score, the root highlighted and the path drawn bold. Any `networkx.DiGraph` whose nodes carry `score`, `root` and
`on_path` (and edges `on_path`) can be shown: the fault web, and the attribution Soft-IDG (kind "soft_idg"), which
is drawn as a DAG ordered by step (`step_graph`)."""
from __future__ import annotations

import re

import networkx as nx
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from rca_tui.widgets.palette import theme_style
from rca_tui.widgets.step_graph import draw_steps, score_key, step_order

Cell = tuple[str, str]  # (character, style key)
JOINS = {"─", "│", "┐", "┘", "└", "┌", "┼"}
NO_FAULT_WEB = "no graph yet: the Probability Oracle and the Fault Mapper have not answered"


class GraphCanvas(Widget, can_focus=True):
    DEFAULT_CSS = """
    GraphCanvas { border: round $primary-muted; height: 1fr; width: 1fr; }
    GraphCanvas:focus { border: round $primary; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.graph = nx.DiGraph()
        self.selected: str | None = None
        self.empty_message = NO_FAULT_WEB
        self._selected_by_kind: dict[str, str | None] = {}

    @property
    def kind(self) -> str:
        return self.graph.graph.get("kind", "fault_web")

    def show(self, graph: nx.DiGraph, empty_message: str = NO_FAULT_WEB) -> None:
        """Draw `graph`; each kind of graph keeps its own selection (the root when the selection is not in it)."""
        self._selected_by_kind[self.kind] = self.selected
        self.graph, self.empty_message = graph, empty_message
        self.selected = self._selected_by_kind.get(self.kind)
        if self.selected not in graph:
            roots = [n for n, root in graph.nodes(data="root") if root]
            order = self.node_order()
            self.selected = roots[0] if roots else (order[0] if order else None)
        self.refresh()

    def node_order(self) -> list[str]:
        """The order selection walks: the Soft-IDG's steps as they happened, other graphs by score, highest first."""
        if self.kind == "soft_idg":
            return step_order(self.graph)
        return sorted(self.graph, key=lambda n: (-self.graph.nodes[n]["score"], n))

    def select_step(self, step: int) -> str | None:
        order = self.node_order()
        if order:
            index = order.index(self.selected) if self.selected in order else -step
            self.selected = order[(index + step) % len(order)]
            self.refresh()
        return self.selected

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        if not self.graph:
            return Text(self.empty_message)
        if self.kind == "soft_idg":
            drawing = draw_steps(self.graph, max(width, 10), max(height - 1, 3), self.selected)
            return _to_text(drawing.grid, self._styles()) + Text("\n") + self._step_legend(drawing)
        grid = draw(self.graph, max(width, 10), max(height - 1, 3), self.selected)
        return _to_text(grid, self._styles()) + Text("\n") + self._legend()

    def _styles(self) -> dict[str, Style]:
        app = self.app
        return {"edge": theme_style(app, "foreground-muted"), "path": theme_style(app, "accent", bold=True),
                "focus": theme_style(app, "primary", bold=True),
                "high": theme_style(app, "error", bold=True), "mid": theme_style(app, "warning", bold=True),
                "low": theme_style(app, "success"), "root": theme_style(app, "error", bold=True, reverse=True),
                "": Style()}

    def _legend(self) -> Text:
        styles = self._styles()
        return Text.assemble(("■ ≥0.7 ", styles["high"]), ("■ ≥0.4 ", styles["mid"]), ("■ <0.4 ", styles["low"]),
                             (" root ", styles["root"]), (" ━ path", styles["path"]), ("  › selected", styles[""]))

    def _step_legend(self, drawing) -> Text:
        """Colours, the blamed step, the evidence path, which steps are in view and how many edges are drawn; the
        last two only when they fit."""
        styles = self._styles()
        last = min(drawing.rows, drawing.top + len(drawing.grid))
        legend = Text.assemble(("■≥.7 ", styles["high"]), ("■≥.4 ", styles["mid"]), ("■<.4 ", styles["low"]),
                               (" blamed ", styles["root"]), (" ━ evidence", styles["path"]))
        for extra in (f"  steps {drawing.top + 1}-{last}/{drawing.rows}", f"  edges {drawing.arcs}/{drawing.edges}"):
            if legend.cell_len + len(extra) <= self.content_size.width:
                legend.append(extra, styles["edge"])
        return legend


def layers(graph: nx.DiGraph) -> list[list[str]]:
    """Left-to-right layers; cycles are collapsed so every graph gets one."""
    dag = graph if nx.is_directed_acyclic_graph(graph) else nx.condensation(graph)
    generations = list(nx.topological_generations(dag))
    if dag is graph:
        return [sorted(layer) for layer in generations]
    members = nx.get_node_attributes(dag, "members")
    return [sorted(node for component in layer for node in members[component]) for layer in generations]


def positions(graph: nx.DiGraph, width: int, height: int) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """Where each node's label starts, and how wide it may be (the last column runs to the right edge)."""
    columns = layers(graph)
    column_width = max(6, width // max(1, len(columns)))
    placed, room = {}, {}
    for column, nodes in enumerate(columns):
        for row, node in enumerate(nodes):
            y = min(height - 1, round((row + 1) * height / (len(nodes) + 1)) - 1)
            placed[node] = (column * column_width, max(0, y))
            room[node] = column_width - 4 if column < len(columns) - 1 else max(column_width - 4, width - placed[node][0])
    return placed, room


def draw(graph: nx.DiGraph, width: int, height: int, selected: str | None) -> list[list[Cell]]:
    grid: list[list[Cell]] = [[(" ", "")] * width for _ in range(height)]
    placed, room = positions(graph, width, height)
    names = short_names(list(graph), {node: max(1, room[node] - 6) for node in graph})
    labels = {node: _label(names[node], graph.nodes[node]["score"], room[node], node == selected) for node in graph}
    for source, target, data in graph.edges(data=True):
        _route(grid, placed[source], len(labels[source]), placed[target], "path" if data.get("on_path") else "edge")
    for node, (x, y) in placed.items():
        attrs = graph.nodes[node]
        style = "root" if attrs.get("root") else score_key(attrs["score"])
        _put_text(grid, x, y, labels[node], style)
    return grid


def short_names(nodes: list[str], room: dict[str, int]) -> dict[str, str]:
    """When a name does not fit its room, drop what all names share at either end, on `-`/`_`/`.` boundaries
    (`ts-food-service`, `ts-travel-service` → `food`, `travel`); the node detail keeps the full name."""
    if len(nodes) < 2 or all(len(n) <= room[n] for n in nodes):
        return {n: n for n in nodes}
    split = [re.split(r"(?<=[-_.])", n) for n in nodes]
    prefix = 0
    while all(len(parts) > prefix + 1 and parts[prefix] == split[0][prefix] for parts in split):
        prefix += 1
    suffix = 0
    while all(len(parts) > prefix + suffix + 1 and parts[-1 - suffix].strip("-_.") == split[0][-1 - suffix].strip("-_.")
              for parts in split):
        suffix += 1
    return {n: "".join(parts[prefix:len(parts) - suffix]).strip("-_.") or n for n, parts in zip(nodes, split)}


def _label(node: str, score: float, width: int, selected: bool) -> str:
    """`›name 0.91`, the name shortened (never the score) when the column is narrow."""
    room = max(1, width - 6)
    name = node if len(node) <= room else node[: room - 1] + "…"
    return f"{'›' if selected else ' '}{name} {score:.2f}"


def _route(grid, source: tuple[int, int], source_len: int, target: tuple[int, int], style: str) -> None:
    (sx, sy), (tx, ty) = source, target
    start, end = sx + source_len, tx - 1
    mid = max(start, end - 1)
    for x in range(start, mid):
        _put_line(grid, x, sy, "─", style)
    step = 1 if ty >= sy else -1
    for y in range(sy, ty + step, step):
        corner = "─" if sy == ty else ("┐" if y == sy and step > 0 else "┘" if y == sy else
                                       "└" if y == ty and step > 0 else "┌" if y == ty else "│")
        _put_line(grid, mid, y, corner, style)
    for x in range(mid + 1, end):
        _put_line(grid, x, ty, "─", style)
    _put_text(grid, end, ty, "▶", style)


def _put_line(grid, x: int, y: int, char: str, style: str) -> None:
    if 0 <= y < len(grid) and 0 <= x < len(grid[0]):
        existing, existing_style = grid[y][x]
        merged = "┼" if existing in JOINS and existing != char else char
        grid[y][x] = (merged, "path" if "path" in (style, existing_style) else style)


def _put_text(grid, x: int, y: int, text: str, style: str) -> None:
    for offset, char in enumerate(text):
        if 0 <= y < len(grid) and 0 <= x + offset < len(grid[0]):
            grid[y][x + offset] = (char, style)


def _to_text(grid: list[list[Cell]], styles: dict[str, Style]) -> Text:
    text = Text(no_wrap=True)
    for number, row in enumerate(grid):
        if number:
            text.append("\n")
        for char, key in row:
            text.append(char, styles.get(key))
    return text
