"""The incident's fault web as a graph: nodes coloured by anomaly score, the agreed root cause and its propagation
path highlighted, the selected node's detail beside it. Shows the replay cursor's run when a replay is open,
otherwise the live (or latest) run."""
from __future__ import annotations

import networkx as nx
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from engine.runs.replay import fault_graph
from rca_tui.widgets.graph_canvas import GraphCanvas


class GraphScreen(Screen):
    DEFAULT_CSS = """
    GraphScreen #node-scroll { width: 30; border: round $secondary-muted; }
    GraphScreen #node-detail { padding: 0 1; }
    """
    BINDINGS = [
        Binding("j,down", "select(1)", "Next node", id="graph.next", tooltip="Select the next node (by score)"),
        Binding("k,up", "select(-1)", "Prev node", id="graph.prev", tooltip="Select the previous node"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield GraphCanvas(id="graph")
            with VerticalScroll(id="node-scroll"):
                yield Static("", id="node-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "graph"
        self.query_one("#node-scroll").border_title = "Node"

    def on_screen_resume(self) -> None:
        canvas = self.query_one(GraphCanvas)
        source, graph_state = self.app.graph_source()
        canvas.border_title = f"Fault web · {source}"
        canvas.show(fault_graph(graph_state))
        canvas.focus()
        self.show_node()

    def action_select(self, step: int) -> None:
        self.query_one(GraphCanvas).select_step(step)
        self.show_node()

    def show_node(self) -> None:
        canvas = self.query_one(GraphCanvas)
        self.query_one("#node-detail", Static).update(node_markup(canvas.graph, canvas.selected))


def node_markup(graph: nx.DiGraph, node: str | None) -> str:
    if node is None:
        return "[dim]no node[/]"
    attrs = graph.nodes[node]
    lines = [f"[b]{escape(node)}[/b]", f"score     {attrs['score']:.3f}"]
    if attrs.get("root"):
        lines.append("[$error]agreed root cause[/]")
    if attrs.get("on_path"):
        lines.append("[$accent]on the propagation path[/]")
    lines.append(f"calls     {', '.join(escape(n) for n in graph.successors(node)) or '-'}")
    lines.append(f"called by {', '.join(escape(n) for n in graph.predecessors(node)) or '-'}")
    if attrs.get("reason"):
        lines += ["", escape(str(attrs["reason"]))]
    return "\n".join(lines)
