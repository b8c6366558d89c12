"""Markdown and HTML of `engine.runs.report.incident_report`: the same sections in the same order, the agent
steps in the agent log's words (with the numbers each step cited), the Soft-IDG drawn as inline SVG in HTML."""
from __future__ import annotations

import html
import json
from typing import Any

from rca_tui.formatting import describe
from rca_tui.report.svg import soft_idg_svg


def _sections(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]] | None, list[str] | None]]:
    """(title, paragraphs, table rows, table header) per section; both renderers walk this."""
    run = report["run"]
    sections = []
    verdict = {True: "correct", False: "WRONG", None: "no label"}[run.get("correct")]
    sections.append(("Summary", [
        f"Run `{run['run_id']}` on incident `{run['incident']}` ({run.get('system') or 'unknown system'}), "
        f"reasoner {run['reasoner']}, started {run['started']}, {run['status']} in {run.get('seconds')} s.",
        f"Root cause: **{run['root_cause']}** (truth: {run.get('truth') or 'unknown'}, {verdict}).",
        f"Reason: {report.get('reason') or '-'}",
        "Propagation: " + (" → ".join(report["propagation_path"]) or "-"),
    ], None, None))
    alert = report.get("alert")
    sections.append(("Alert", [json.dumps(alert, default=str) if not isinstance(alert, dict) else
                               alert.get("description") or json.dumps(alert, default=str)] if alert else ["-"],
                     None, None))
    sections.append(("Candidates", [], [[str(i + 1), c.get("entity", ""), f"{c.get('score', 0):.4g}"]
                                        for i, c in enumerate(report["candidates"])], ["rank", "entity", "score"]))
    sections.append(("Timeline of agent steps", ["Each line: event number (the Replay pane's #), agent, kind, "
                                                 "what it did or saw."],
                     [[describe(e, report.get("step_seqs"))] for e in report["steps"]], ["step"]))
    tally = report.get("tally") or {}
    sections.append(("Vote", [f"Tally: for {tally.get('for')}, against {tally.get('against')}, abstain "
                              f"{tally.get('abstain')} of {tally.get('eligible')} eligible weight → "
                              f"{tally.get('outcome')}"] if tally else ["No vote closed."],
                     [[v["agent"] or "", v["option"] or "", str(v["weight"]), str(v["block"])] for v in report["votes"]],
                     ["agent", "option", "weight", "block"]))
    consensus = report.get("consensus")
    if consensus and consensus.get("proof"):
        proof = consensus["proof"]
        sections.append(("Consensus transaction and Merkle proof", [
            f"tx `{consensus['tx']}` ({consensus.get('tx_type')}, sent by {consensus.get('sender')}, "
            f"{consensus.get('receipt')}) in block {consensus['block']}, position {proof['index']}.",
            f"Proof {'✓ verified' if proof['verified'] else '✗ does NOT match'} against the stored root "
            f"`{proof['stored_root']}`.",
        ], [[("leaf" if i == 0 else f"level {i}"), node] for i, node in enumerate(proof["path"])],
            ["level", "hash"]))
    else:
        sections.append(("Consensus transaction and Merkle proof", ["No consensus was reached."], None, None))
    sections.append(("Repair plan", _plan_lines(report), [[str(s.get("step_id")), s.get("action", ""), s.get("description", "")]
                                         for s in report["repair_steps"]], ["#", "action", "description"]))
    tamo = report.get("tamo")
    if tamo:
        odds = tamo.get("fault_probabilities") or {}
        likely = tamo.get("fault_type") or (max(odds, key=odds.get) if odds else "-")
        sections.append(("TAMO report", [
            f"Fault type: {likely}" + (f" (p={odds[likely]:.2f})" if isinstance(odds.get(likely), float) else ""),
            str(tamo.get("fault_analysis") or ""), f"Impact: {_field(tamo.get('impact'), 'summary')}",
            f"Priority: {_field(tamo.get('priority'), 'level')}"], None, None))
    attribution = report.get("attribution")
    if attribution:
        slashed = attribution.get("slashed")
        seqs = report.get("step_seqs") or []

        def number(step) -> str:
            return f"#{seqs[step]}" if isinstance(step, int) and 0 <= step < len(seqs) else f"step {step}"

        sections.append(("Failure attribution (Soft-IDG)", [
            f"Blamed **{attribution.get('who')}** at {number(attribution.get('when'))} (Soft-IDG step "
            f"{attribution.get('when')}); "
            + (f"slashed {slashed['amount']} stake (tx `{(attribution.get('tx') or {}).get('tx')}`)." if slashed
               else "not slashed (the consensus is not known to be wrong)."),
        ], [[number(r.get("step")), r.get("agent", ""), r.get("kind", ""), f"{r.get('score') or 0:.3f}",
             (r.get("text") or "")[:160]] for r in attribution.get("evidence_path", [])],
            ["step", "agent", "kind", "score", "text"]))
    verification = report.get("verification")
    if verification:
        sections.append(("Chain verification", [
            f"{'✓ chain OK' if verification['ok'] else '✗ chain FAILED'}: {verification['blocks']} blocks, "
            f"{verification['transactions']} txs re-checked from genesis (links, signatures, Merkle roots, "
            "re-executed state roots).", *verification["findings"]], None, None))
    if report.get("warnings"):
        sections.append(("Warnings", list(report["warnings"]), None, None))
    return sections


def _plan_lines(report: dict) -> list[str]:
    if not report["repair_steps"]:
        return ["No repair plan (no consensus)."]
    kind = report.get("fault_type")
    return [f"Fault type: {kind['fault_type']} (p={kind['probability']:.2f}, tool {kind['tool']})."] if kind else []


def _field(value: Any, key: str) -> str:
    return str(value.get(key, "-")) if isinstance(value, dict) else str(value or "-")


def to_markdown(report: dict[str, Any]) -> str:
    run = report["run"]
    lines = [f"# Incident report: {run['incident']} ({run['run_id']})", ""]
    for title, paragraphs, rows, header in _sections(report):
        lines += [f"## {title}", ""]
        for paragraph in paragraphs:
            lines += [paragraph, ""]
        if rows is not None and header == ["step"]:
            lines += ["```", *(row[0] for row in rows), "```", ""]
        elif rows:
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |"
                      for row in rows]
            lines.append("")
    return "\n".join(lines)


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;
vertical-align:top}code,pre{font-family:ui-monospace,monospace;font-size:.85em}pre{background:#f6f6f6;
padding:.6em;overflow-x:auto;white-space:pre-wrap}.ok{color:#080}.bad{color:#b00}"""


def to_html(report: dict[str, Any]) -> str:
    run = report["run"]
    title = f"Incident report: {run['incident']} ({run['run_id']})"
    body = [f"<h1>{html.escape(title)}</h1>"]
    for name, paragraphs, rows, header in _sections(report):
        body.append(f"<h2>{html.escape(name)}</h2>")
        body += [f"<p>{_inline(p)}</p>" for p in paragraphs if p]
        if rows is not None and header == ["step"]:
            body.append("<pre>" + "\n".join(html.escape(row[0]) for row in rows) + "</pre>")
        elif rows:
            body.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
                        + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                                  for row in rows) + "</table>")
        if name.startswith("Failure attribution") and (report["attribution"] or {}).get("graph"):
            body.append(soft_idg_svg(report["attribution"], report.get("step_seqs")))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")


def _inline(text: str) -> str:
    """`code` and **bold** of the Markdown paragraphs, escaped; ✓/✗ coloured."""
    import re

    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)
    return out.replace("✓", "<span class=ok>✓</span>").replace("✗", "<span class=bad>✗</span>")
