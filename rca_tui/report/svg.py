"""The Soft-IDG of an attribution as inline SVG: one row per step in time order, influence edges as arcs on the
left (stronger = thicker), the evidence path and the blamed step highlighted."""
from __future__ import annotations

import html
from typing import Any

ROW, LEFT, WIDTH = 18, 170, 1000


def soft_idg_svg(attribution: dict[str, Any], seqs: list[int] | None = None) -> str:
    graph = attribution.get("graph") or {}
    nodes = graph.get("nodes") or []
    if not nodes:
        return ""
    row_of = {node["step"]: index for index, node in enumerate(nodes)}
    path = [row.get("step") for row in attribution.get("evidence_path", [])]
    on_path = set(zip(path, path[1:])) | set(zip(path[1:], path))
    blamed = attribution.get("when")
    height = ROW * len(nodes) + 20
    top = max((edge["weight"] for edge in graph.get("edges", [])), default=1.0) or 1.0
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height}' "
             f"font-family='monospace' font-size='11'>"]
    for edge in graph.get("edges", []):
        if edge["from"] not in row_of or edge["to"] not in row_of:
            continue
        y1, y2 = _y(row_of[edge["from"]]), _y(row_of[edge["to"]])
        bend = LEFT - 8 - min(150, 6 * abs(row_of[edge["to"]] - row_of[edge["from"]]))
        hot = (edge["from"], edge["to"]) in on_path
        parts.append(f"<path d='M{LEFT - 4},{y1} C{bend},{y1} {bend},{y2} {LEFT - 4},{y2}' fill='none' "
                     f"stroke='{'#c00' if hot else '#99a'}' stroke-opacity='{1 if hot else 0.6}' "
                     f"stroke-width='{0.5 + 2.5 * edge['weight'] / top:.2f}'/>")
    for index, node in enumerate(nodes):
        step = node["step"]
        colour = "#c00" if step == blamed else ("#d60" if step in path else "#333")
        score = node.get("score")
        number = f"#{seqs[step]}" if seqs and 0 <= step < len(seqs) else f"{step}"
        label = (f"{number:>4} {node.get('agent', '')[:18]:<18} {node.get('kind', '')[:8]:<8} "
                 f"{'' if score is None else f'{score:.2f}':>5} {(node.get('text') or '')[:90]}")
        weight = "bold" if step in path else "normal"
        parts.append(f"<circle cx='{LEFT}' cy='{_y(index)}' r='4' fill='{colour}'/>"
                     f"<text x='{LEFT + 8}' y='{_y(index) + 4}' fill='{colour}' font-weight='{weight}' "
                     f"xml:space='preserve'>{html.escape(label)}</text>")
    parts.append("</svg>")
    return "<figure>" + "".join(parts) + "<figcaption>Soft-IDG: steps in time order; arcs are the strongest " \
        "influences into each step; red marks the blamed step and the evidence path.</figcaption></figure>"


def _y(index: int) -> int:
    return 10 + ROW * index
