"""The graph pane, two views of the run (`s` toggles): the incident's fault web (nodes coloured by anomaly score,
the agreed root cause and its propagation path highlighted) and the attribution Soft-IDG (the run's steps ordered
by time, the blamed step and the evidence path highlighted), the selected node's detail beside it. Shows the replay
cursor's run when a replay is open, otherwise the live (or latest) run."""
from __future__ import annotations

import networkx as nx
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Static

from engine.runs.graph_views import fault_graph, soft_idg_graph
from rca_tui.widgets.pane_bar import KeyFooter, PaneBar
from rca_tui.widgets.graph_canvas import GraphCanvas

VIEWS = {"fault_web": "Fault web", "soft_idg": "Soft-IDG"}


def no_attribution_message(graph_state: dict) -> str:
    """What the Soft-IDG view says when the run (at this cursor) has no attribution, and how to get one."""
    run_id = graph_state.get("run_id")
    if run_id is None:
        return "No run yet: start one (d runs the demo), then attribute it."
    later = graph_state.get("next_attribution_at")
    if later is not None:
        return (f"Run {run_id} is attributed at event {later}; the replay cursor has not reached it yet. "
                "Step on (End in the Replay pane) to see the Soft-IDG.")
    return (f"Run {run_id} has no attribution yet.\nRecord one (who / when, evidence path, slash):\n\n"
            f"  rca-tui attribute --slash \\\n      --run {run_id}\n\n"
            "or press a on the Runs pane (5).")


class GraphScreen(Screen):
    DEFAULT_CSS = """
    GraphScreen #node-scroll { width: 30; border: round $secondary-muted; }
    GraphScreen #node-detail { padding: 0 1; }
    """
    BINDINGS = [
        Binding("j,down", "select(1)", "Next node", id="graph.next", tooltip="Select the next node (by score, or by step)"),
        Binding("k,up", "select(-1)", "Prev node", id="graph.prev", tooltip="Select the previous node"),
        Binding("s", "toggle_view", "Soft-IDG", id="graph.soft_idg",
                tooltip="Toggle the fault web and the attribution Soft-IDG (blamed step, evidence path)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = "fault_web"

    def compose(self) -> ComposeResult:
        yield PaneBar("graph")
        with Horizontal():
            yield GraphCanvas(id="graph")
            with VerticalScroll(id="node-scroll"):
                yield Static("", id="node-detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "graph"
        self.query_one("#node-scroll").border_title = "Node"

    def on_screen_resume(self) -> None:
        if self.app.graph_view:  # just attributed: open on the Soft-IDG
            self.view, self.app.graph_view = self.app.graph_view, None
        self.redraw()
        self.query_one(GraphCanvas).focus()

    def on_database_changed(self, _message) -> None:
        self.redraw()  # e.g. `rca-tui attribute --run X` in another terminal: its Soft-IDG shows without a key

    def redraw(self) -> None:
        canvas = self.query_one(GraphCanvas)
        source, graph_state = self.app.graph_source()
        title = f"{VIEWS[self.view]} · {source}"
        if self.view == "soft_idg":
            attribution = graph_state.get("attribution")
            graph = soft_idg_graph(attribution, graph_state.get("step_seqs"))
            if attribution:  # the verdict before the run id: at 80 columns the title's end is cut
                title = (f"{VIEWS[self.view]} · blamed {attribution.get('who')} @ #{graph.graph.get('when_seq')} · "
                         f"{source}")
            canvas.show(graph, no_attribution_message(graph_state))
        else:
            canvas.show(fault_graph(graph_state))
        canvas.border_title = title
        self.show_node()

    def action_toggle_view(self) -> None:
        self.view = "soft_idg" if self.view == "fault_web" else "fault_web"
        self.redraw()

    def action_select(self, step: int) -> None:
        self.query_one(GraphCanvas).select_step(step)
        self.show_node()

    def show_node(self) -> None:
        canvas = self.query_one(GraphCanvas)
        markup = step_markup if canvas.kind == "soft_idg" else node_markup
        self.query_one("#node-detail", Static).update(markup(canvas.graph, canvas.selected))


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


def step_markup(graph: nx.DiGraph, node: str | None) -> str:
    """A Soft-IDG step: who spoke, what kind of step, its score, whether it is blamed / slashed / on the evidence
    path, its strongest in- and out-edges, and its text."""
    if node is None:
        return "[dim]no step[/]"
    attrs, meta = graph.nodes[node], graph.graph
    score = f"{attrs['score']:.3f}" if attrs.get("scored", True) else "-"
    lines = [f"[b]#{attrs.get('seq', attrs['step'])}[/b] · {escape(attrs.get('kind') or '?')} "
             f"(Soft-IDG step {attrs['step']})", f"agent  {escape(attrs['agent'])}",
             f"score  {score}"]
    if attrs.get("root"):
        lines.append("[$error]blamed step[/] (who / when)")
        lines.append(_slash_line(meta))
    if attrs.get("on_path"):
        path = meta.get("path", [])
        lines.append(f"[$accent]evidence path {path.index(node) + 1}/{len(path)}[/]")
    if attrs.get("failure"):
        lines.append("[$warning]the failure shows here[/]")
    if attrs.get("label"):
        lines.append("[$warning]injected fault (label)[/]")
    lines.append(f"from   {_edge_list(graph, graph.in_edges(node, data=True), 0)}")
    lines.append(f"to     {_edge_list(graph, graph.out_edges(node, data=True), 1)}")
    if attrs.get("reason"):
        lines += ["", escape(str(attrs["reason"]))]
    return "\n".join(lines)


def _slash_line(meta: dict) -> str:
    slashed, tx = meta.get("slashed"), meta.get("tx")
    if slashed and tx:
        return (f"[$error]slashed[/] {escape(str(slashed.get('agent')))} -{slashed.get('amount')} stake "
                f"-{slashed.get('reputation')} rep, tx {str(tx.get('tx'))[:10]} block {tx.get('block')}")
    reason = "the consensus was right" if meta.get("consensus_wrong") is False else "the run has no label"
    return f"not slashed ({reason})"


def _edge_list(graph: nx.DiGraph, edges, end: int) -> str:
    """`#11 0.33, #2 0.33`: the other end's step and the weight, heaviest first."""
    rows = sorted(edges, key=lambda e: -(e[2].get("weight") or 0.0))
    return ", ".join(f"#{graph.nodes[e[end]].get('seq', graph.nodes[e[end]]['step'])} " + (f"{e[2]['weight']:.2f}" if e[2].get("weight") is not None
                                                           else "path") for e in rows) or "-"
