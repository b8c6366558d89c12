"""A directed graph drawn in the terminal, nodes coloured by score, the root highlighted and the path drawn bold.
Any `networkx.DiGraph` whose nodes carry `score`, `root` and `on_path` (and edges `on_path`) can be shown: the fault
web, and the attribution Soft-IDG (kind "soft_idg"), which is drawn as a DAG ordered by step (`step_graph`).

The fault web is drawn layered left to right (callers left of callees, `layered_plan`) when the drawing fits: each
caller's edges leave through its own vertical trunk, so two edges never share a line unless they share an end, and
where two unrelated edges cross the vertical one runs through (no `┼`). Names lose what they all share
(`ts-…-service`, said in the legend) when that makes it fit. When no drawing fits the pane, the web is listed as
`caller → callee` rows with both scores, the propagation path first."""
from __future__ import annotations

import re

import networkx as nx
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from engine.runs.graph_views import LayeredPlan, call_rows, layered_plan
from rca_tui.widgets.palette import theme_style
from rca_tui.widgets.step_graph import BOX, RANK, draw_steps, score_key, step_order, window_top

Cell = tuple[str, str]  # (character, style key)
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
        grid, names = draw_calls(self.graph, max(width, 10), max(height - 1, 3), self.selected)
        return _to_text(grid, self._styles()) + Text("\n") + self._legend(names, width)

    def _styles(self) -> dict[str, Style]:
        app = self.app
        return {"edge": theme_style(app, "foreground-muted"), "path": theme_style(app, "accent", bold=True),
                "focus": theme_style(app, "primary", bold=True),
                "high": theme_style(app, "error", bold=True), "mid": theme_style(app, "warning", bold=True),
                "low": theme_style(app, "success"), "root": theme_style(app, "error", bold=True, reverse=True),
                "": Style()}

    def _legend(self, names: dict[str, str], width: int) -> Text:
        """Colours, root, path; then, when they fit, how names were shortened and the selection mark."""
        styles = self._styles()
        legend = Text.assemble(("■≥.7 ", styles["high"]), ("■≥.4 ", styles["mid"]), ("■<.4 ", styles["low"]),
                               ("root", styles["root"]), (" ━path", styles["path"]))
        for extra in (f"  names {shortening(names)}" if shortening(names) else "", "  › selected"):
            if extra and legend.cell_len + len(extra) <= width:
                legend.append(extra, styles["edge"])
        return legend

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


Marks = dict[tuple[int, int], dict[str, set[str]]]  # cell → the directions each caller's lines take through it


def draw_calls(graph: nx.DiGraph, width: int, height: int,
               selected: str | None) -> tuple[list[list[Cell]], dict[str, str]]:
    """The fault web as it fits width × height, and the names it used: the layered drawing with full names, else
    with shortened ones, else the call rows (shortened names only when the full ones do not fit)."""
    full, short = {node: node for node in graph}, short_names(list(graph))
    plan = layered_plan(graph)
    for names in (full, short) if plan is not None else ():
        grid = _draw_plan(graph, plan, names, width, height, selected) if names else None
        if grid is not None:
            return grid, names
    names = short if short and _widest_row(graph, full) > width else full
    return draw_rows(graph, width, height, selected, names), names


def _draw_plan(graph: nx.DiGraph, plan: LayeredPlan, names: dict[str, str], width: int, height: int,
               selected: str | None) -> list[list[Cell]] | None:
    labels = {node: _label(names[node], graph.nodes[node]["score"], node == selected) for node in graph}
    tallest = max(len(layer) for layer in plan.layers)
    if 2 * tallest > height:
        return None
    # neighbouring layers on rows of opposite parity: a caller's line and a callee's line never share a row, so
    # lines only ever cross (the vertical runs through) or join at a shared end
    row = {node: 2 * ((tallest - len(layer)) // 2 + index) + number % 2
           for number, layer in enumerate(plan.layers) for index, node in enumerate(layer)}
    trunks = _trunks(plan, row)
    columns, x = [], 0  # (start, width) of each layer's labels
    for index, layer in enumerate(plan.layers):
        column = max((len(labels[n]) for n in layer if n not in plan.dummies), default=1)
        columns.append((x, column))
        x += column + (1 + len(trunks[index]) + 2 if index < len(plan.layers) - 1 else 0)
    if x > width:
        return None
    grid: list[list[Cell]] = [[(" ", "")] * width for _ in range(height)]
    marks: Marks = {}
    styles: dict[tuple[int, int], str] = {}
    layer_of = {node: index for index, layer in enumerate(plan.layers) for node in layer}
    for source, target, edge in plan.hops:
        index = layer_of[source]
        start, column = columns[index]
        source_end = start + (len(labels[source]) if source not in plan.dummies else 0)
        gap = start + column
        arrow = columns[index + 1][0] - 1
        style = "path" if graph.edges[edge].get("on_path") else "edge"
        trunk_x = gap + 1 + trunks[index][source]
        if source in plan.dummies:
            _line(marks, styles, start, gap, row[source], source, style)
        _line(marks, styles, source_end, trunk_x, row[source], source, style, end="W")
        _trunk(marks, styles, trunk_x, row[source], row[target], source, style)
        _line(marks, styles, trunk_x, arrow, row[target], source, style, start="E")
        if target in plan.dummies:
            _line(marks, styles, arrow, columns[index + 1][0], row[target], source, style)
    _paint_lines(grid, marks, styles)
    for source, target, _ in plan.hops:
        if target not in plan.dummies:
            _put_text(grid, columns[layer_of[target]][0] - 1, row[target], "▶",
                      styles.get((columns[layer_of[target]][0] - 2, row[target]), "edge"))
    for node in graph:
        attrs = graph.nodes[node]
        _put_text(grid, columns[layer_of[node]][0], row[node], labels[node],
                  "root" if attrs.get("root") else score_key(attrs["score"]))
    return grid


def _trunks(plan: LayeredPlan, row: dict[str, int]) -> list[dict[str, int]]:
    """Per gap between layers, each caller's own vertical track, the top caller's leftmost."""
    callers: list[set[str]] = [set() for _ in plan.layers]
    layer_of = {node: index for index, layer in enumerate(plan.layers) for node in layer}
    for source, _, _ in plan.hops:
        callers[layer_of[source]].add(source)
    return [{node: track for track, node in enumerate(sorted(nodes, key=lambda n: row[n]))} for nodes in callers]


def _line(marks: Marks, styles, x1: int, x2: int, y: int, group: str, style: str, start: str = "",
          end: str = "") -> None:
    """A horizontal line over x1..x2 (exclusive); `start` E: it leaves a trunk at x1 eastward; `end` W: it enters
    a trunk at x2 from the west."""
    for x in range(x1, x2):
        _mark(marks, styles, x, y, group, style, *("E",) if start and x == x1 else ("E", "W"))
    if end:
        _mark(marks, styles, x2, y, group, style, "W")


def _trunk(marks: Marks, styles, x: int, y1: int, y2: int, group: str, style: str) -> None:
    top, bottom = min(y1, y2), max(y1, y2)
    for y in range(top, bottom + 1):
        _mark(marks, styles, x, y, group, style, *(("N",) if y > top else ()) + (("S",) if y < bottom else ()))


def _mark(marks: Marks, styles, x: int, y: int, group: str, style: str, *directions: str) -> None:
    marks.setdefault((x, y), {}).setdefault(group, set()).update(directions)
    if RANK[style] > RANK.get(styles.get((x, y)), -1):
        styles[(x, y)] = style


def _paint_lines(grid: list[list[Cell]], marks: Marks, styles) -> None:
    """Box characters from the directions through each cell; where one caller's vertical crosses another's
    horizontal, the vertical runs through, so a crossing never reads as a junction."""
    for (x, y), groups in marks.items():
        if not (0 <= y < len(grid) and 0 <= x < len(grid[0])):
            continue
        directions = set().union(*groups.values())
        crossing = any(d == {"N", "S"} for d in groups.values()) and any(d == {"E", "W"} for d in groups.values())
        char = "│" if crossing else BOX.get("".join(sorted(directions)), " ")
        grid[y][x] = (char, styles[(x, y)])


def draw_rows(graph: nx.DiGraph, width: int, height: int, selected: str | None,
              names: dict[str, str]) -> list[list[Cell]]:
    """Who calls whom as rows, `caller score → callee score`: the path's hops first (drawn as the path), then the
    other edges by the caller's score, then nodes with no edge; the selected node's rows kept in view."""
    rows = call_rows(graph)
    caller_width = max((len(names[r.caller]) for r in rows), default=1) + 6
    header = " caller → callee" + (f"   names: {shortening(names)}" if shortening(names) else "")
    lines: list[list[Cell]] = [(_cells((header, "edge")) + [(" ", "")] * width)[:width]]
    for call in rows:
        cells = _cells(("›" if selected is not None and selected in (call.caller, call.callee) else " ", ""))
        cells += _cells(*_node_cell(graph, names, call.caller, caller_width))
        if call.callee is None:
            cells += _cells(("  (no calls)", "edge"))
        else:
            cells += _cells((" → " if not call.on_path else " ━▶ ", "path" if call.on_path else "edge"))
            cells += _cells(*_node_cell(graph, names, call.callee, 0))
        lines.append((cells + [(" ", "")] * width)[:width])
    focus = next((index for index, call in enumerate(rows) if selected is not None
                  and selected in (call.caller, call.callee)), 0)
    top = window_top(focus, len(rows), height - 1)
    grid = lines[:1] + lines[1 + top:1 + top + height - 1]
    return grid + [[(" ", "")] * width for _ in range(height - len(grid))]


def _node_cell(graph: nx.DiGraph, names: dict[str, str], node: str, width: int) -> tuple[tuple[str, str], ...]:
    attrs = graph.nodes[node]
    style = "root" if attrs.get("root") else score_key(attrs["score"])
    return (names[node], style), (f" {attrs['score']:.2f}".ljust(max(0, width - len(names[node]))), style)


def _cells(*parts: tuple[str, str]) -> list[Cell]:
    return [(char, style) for text, style in parts for char in text]


def _widest_row(graph: nx.DiGraph, names: dict[str, str]) -> int:
    rows = call_rows(graph)
    caller = max((len(names[r.caller]) for r in rows), default=1) + 6
    return 1 + caller + 4 + max((len(names[r.callee]) + 5 for r in rows if r.callee), default=0)


def short_names(nodes: list[str]) -> dict[str, str]:
    """Names without what they all share at either end, on `-`/`_`/`.` boundaries (`ts-food-service`,
    `ts-travel-service` → `food`, `travel`); {} when nothing is shared. The node detail keeps the full name."""
    if len(nodes) < 2:
        return {}
    split = [re.split(r"(?<=[-_.])", n) for n in nodes]
    prefix = 0
    while all(len(parts) > prefix + 1 and parts[prefix] == split[0][prefix] for parts in split):
        prefix += 1
    suffix = 0
    while all(len(parts) > prefix + suffix + 1 and parts[-1 - suffix].strip("-_.") == split[0][-1 - suffix].strip("-_.")
              for parts in split):
        suffix += 1
    if not prefix and not suffix:
        return {}
    return {n: "".join(parts[prefix:len(parts) - suffix]).strip("-_.") or n for n, parts in zip(nodes, split)}


def shortening(names: dict[str, str]) -> str:
    """How `short_names` shortened: `ts-…-service`; "" when it did not."""
    for full, short in names.items():
        if short != full and short in full:
            start = full.index(short)
            return f"{full[:start]}…{full[start + len(short):]}"
    return ""


def _label(name: str, score: float, selected: bool) -> str:
    """`›name 0.91`: the whole name (the plan only draws when every label fits)."""
    return f"{'›' if selected else ' '}{name} {score:.2f}"


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
