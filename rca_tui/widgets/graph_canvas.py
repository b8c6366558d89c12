"""A directed graph drawn in the terminal: layered left to right, edges routed with box lines, nodes coloured by
score, the root highlighted and the path drawn bold. Any `networkx.DiGraph` whose nodes carry `score`, `root` and
`on_path` (and edges `on_path`) can be shown: the fault web today, the attribution Soft-IDG later."""
from __future__ import annotations

import networkx as nx
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from rca_tui.widgets.palette import theme_style

Cell = tuple[str, str]  # (character, style key)
JOINS = {"─", "│", "┐", "┘", "└", "┌", "┼"}


class GraphCanvas(Widget, can_focus=True):
    DEFAULT_CSS = """
    GraphCanvas { border: round $primary-muted; height: 1fr; }
    GraphCanvas:focus { border: round $primary; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.graph = nx.DiGraph()
        self.selected: str | None = None

    def show(self, graph: nx.DiGraph) -> None:
        self.graph = graph
        order = self.node_order()
        if self.selected not in graph:
            self.selected = order[0] if order else None
        self.refresh()

    def node_order(self) -> list[str]:
        """Nodes by score, highest first: the order selection walks."""
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
            return Text("no graph yet: the Probability Oracle and the Fault Mapper have not answered")
        grid = draw(self.graph, max(width, 10), max(height - 1, 3), self.selected)
        return _to_text(grid, self._styles()) + Text("\n") + self._legend()

    def _styles(self) -> dict[str, Style]:
        app = self.app
        return {"edge": theme_style(app, "foreground-muted"), "path": theme_style(app, "accent", bold=True),
                "high": theme_style(app, "error", bold=True), "mid": theme_style(app, "warning", bold=True),
                "low": theme_style(app, "success"), "root": theme_style(app, "error", bold=True, reverse=True),
                "": Style()}

    def _legend(self) -> Text:
        styles = self._styles()
        return Text.assemble(("■ ≥0.7 ", styles["high"]), ("■ ≥0.4 ", styles["mid"]), ("■ <0.4 ", styles["low"]),
                             (" root ", styles["root"]), (" ━ path", styles["path"]), ("  › selected", styles[""]))


def score_key(score: float) -> str:
    return "high" if score >= 0.7 else ("mid" if score >= 0.4 else "low")


def layers(graph: nx.DiGraph) -> list[list[str]]:
    """Left-to-right layers; cycles are collapsed so every graph gets one."""
    dag = graph if nx.is_directed_acyclic_graph(graph) else nx.condensation(graph)
    generations = list(nx.topological_generations(dag))
    if dag is graph:
        return [sorted(layer) for layer in generations]
    members = nx.get_node_attributes(dag, "members")
    return [sorted(node for component in layer for node in members[component]) for layer in generations]


def positions(graph: nx.DiGraph, width: int, height: int) -> tuple[dict[str, tuple[int, int]], int]:
    columns = layers(graph)
    column_width = max(6, width // max(1, len(columns)))
    placed = {}
    for column, nodes in enumerate(columns):
        for row, node in enumerate(nodes):
            y = min(height - 1, round((row + 1) * height / (len(nodes) + 1)) - 1)
            placed[node] = (column * column_width, max(0, y))
    return placed, column_width - 4


def draw(graph: nx.DiGraph, width: int, height: int, selected: str | None) -> list[list[Cell]]:
    grid: list[list[Cell]] = [[(" ", "")] * width for _ in range(height)]
    placed, label_width = positions(graph, width, height)
    labels = {node: _label(node, graph.nodes[node]["score"], label_width, node == selected) for node in graph}
    for source, target, data in graph.edges(data=True):
        _route(grid, placed[source], len(labels[source]), placed[target], "path" if data.get("on_path") else "edge")
    for node, (x, y) in placed.items():
        attrs = graph.nodes[node]
        style = "root" if attrs.get("root") else score_key(attrs["score"])
        _put_text(grid, x, y, labels[node], style)
    return grid


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
