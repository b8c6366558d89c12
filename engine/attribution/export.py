"""Display artefacts (design 003, section 12): the Soft-IDG as Graphviz DOT, and a standalone HTML page where
clicking a node shows the step's text, its strongest in-edges and the parts of its score. Both draw
:class:`~engine.attribution.view.SoftIdgView`.
"""
from __future__ import annotations

import html
import json

from engine.attribution.pipeline import Attribution
from engine.attribution.schema import Trajectory
from engine.attribution.view import SoftIdgView, soft_idg_view

_TEXT_PREVIEW = 1200


def export_view(trajectory: Trajectory, attribution: Attribution) -> SoftIdgView:
    """Every edge of the graph and a long text preview: the artefacts are read at leisure."""
    return soft_idg_view(trajectory, attribution, max_in_edges=None, text_chars=_TEXT_PREVIEW)


def to_dot(trajectory: Trajectory, attribution: Attribution) -> str:
    view = export_view(trajectory, attribution)
    on_path = set(zip(view.evidence_path, view.evidence_path[1:]))
    lines = [f'digraph "{_dot_escape(trajectory.id)}" {{', "  rankdir=LR;", '  node [shape=box, fontsize=10];']
    for node in view.nodes:
        label = f"{node.step}: {node.agent}\\ns={_number(node.parts['anomaly'])} score={_number(node.score)}"
        lines.append(f'  s{node.step} [label="{_dot_escape(label)}"{_node_style(node.step, view)}];')
    for source, target, weight in sorted(view.edges()):
        bold = ", color=red, penwidth=2.5" if (source, target) in on_path else ""
        lines.append(f'  s{source} -> s{target} [label="{weight:.2f}"{bold}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_html(trajectory: Trajectory, attribution: Attribution) -> str:
    data = json.dumps(export_view(trajectory, attribution).to_dict()).replace("</", "<\\/")
    title = html.escape(f"Attribution — {trajectory.id}")
    return _HTML_TEMPLATE.replace("__TITLE__", title).replace("__DATA__", data)


def _node_style(step: int, view: SoftIdgView) -> str:
    if step == view.when:
        return ", style=filled, fillcolor=salmon"
    if step in view.failure_steps:
        return ", style=filled, fillcolor=lightgoldenrod"
    if step in view.evidence_path:
        return ", style=filled, fillcolor=mistyrose"
    return ""


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n")


_HTML_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
 body{font-family:system-ui,sans-serif;margin:0;display:flex;height:100vh}
 #graph{flex:3;overflow:auto;border-right:1px solid #ccc} #detail{flex:2;padding:1em;overflow:auto}
 .node{cursor:pointer} .node rect{fill:#eef;stroke:#557} .node.when rect{fill:#f99}
 .node.failure rect{fill:#fe9} .node.path rect{stroke:#c00;stroke-width:2} .node.selected rect{stroke:#000;stroke-width:3}
 .edge{fill:none;stroke:#99a} .edge.path{stroke:#c00;stroke-width:2.5}
 pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em} table{border-collapse:collapse} td{padding:2px 8px}
</style></head><body>
<div id="graph"></div><div id="detail"><h2 id="head"></h2><p>Click a step.</p></div>
<script>
const view = __DATA__;
const W = 150, H = 44, GAP = 30, PER_ROW = 6;
const pos = s => ({x: 20 + (s % PER_ROW) * (W + GAP), y: 40 + Math.floor(s / PER_ROW) * (H + 70)});
const edges = view.nodes.flatMap(n => n.in_edges.map(e => ({from: e.from, to: n.step, weight: e.weight})));
const pathEdges = new Set(view.evidence_path.slice(1).map((t, i) => view.evidence_path[i] + ">" + t));
const rows = Math.ceil(view.nodes.length / PER_ROW);
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${PER_ROW * (W + GAP) + 40}" height="${rows * (H + 70) + 60}">`;
for (const e of edges) {
  const a = pos(e.from), b = pos(e.to), cls = pathEdges.has(e.from + ">" + e.to) ? "edge path" : "edge";
  const mx = (a.x + b.x) / 2 + W / 2, my = Math.min(a.y, b.y) - 25;
  svg += `<path class="${cls}" stroke-opacity="${0.25 + 0.75 * e.weight}" d="M${a.x + W / 2},${a.y} Q${mx},${my} ${b.x + W / 2},${b.y}"/>`;
}
for (const n of view.nodes) {
  const p = pos(n.step), cls = ["node", n.step === view.when ? "when" : "", view.failure_steps.includes(n.step) ? "failure" : "",
    view.evidence_path.includes(n.step) ? "path" : ""].join(" ");
  const label = `${n.step}: ${n.agent}`.replace(/[<>&]/g, "");
  svg += `<g class="${cls}" data-step="${n.step}"><rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="6"/>` +
    `<text x="${p.x + 6}" y="${p.y + 18}" font-size="12">${label.slice(0, 22)}</text>` +
    `<text x="${p.x + 6}" y="${p.y + 34}" font-size="11">score ${n.parts.score === null ? "-" : n.parts.score.toFixed(2)}</text></g>`;
}
document.getElementById("graph").innerHTML = svg + "</svg>";
document.getElementById("head").textContent = `who: ${view.who} — when: step ${view.when} — path: ${view.evidence_path.join(" → ")}`;
function show(step) {
  const n = view.nodes[step], d = document.getElementById("detail");
  document.querySelectorAll(".node").forEach(g => g.classList.toggle("selected", +g.dataset.step === step));
  const esc = s => String(s).replace(/[&<>]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;"}[c]));
  const parts = Object.entries(n.parts).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v === null ? "-" : v}</td></tr>`).join("");
  const ins = n.in_edges.map(e => `<li>step ${e.from} (${esc(view.nodes[e.from].agent)}) — ${e.weight}</li>`).join("") || "<li>none</li>";
  d.innerHTML = `<h2>${esc(document.getElementById("head") ? document.getElementById("head").textContent : "")}</h2>` +
    `<h3>Step ${n.step} — ${esc(n.agent)} (${esc(n.kind)})</h3><h4>Score parts</h4><table>${parts}</table>` +
    `<h4>Top in-edges</h4><ul>${ins}</ul><h4>Text</h4><pre>${esc(n.text)}</pre>`;
}
document.querySelectorAll(".node").forEach(g => g.addEventListener("click", () => show(+g.dataset.step)));
</script></body></html>
"""
