"""The incident report (postmortem) of one run as plain data: alert, agent steps, the vote and its weights, the
consensus tx with its verified Merkle proof, the repair plan, TAMO's report, the attribution and the chain check.

Rendering it (Markdown, HTML) is the face's job; this module only reads what the run recorded.
"""
from __future__ import annotations

from typing import Any

from engine.chain.merkle import proof_path, verify_proof
from engine.events import RunEvent
from engine.runs.navigation import step_seqs

STEP_KINDS = ("agent_thought", "agent_action", "observation", "proposal", "vote_cast", "consensus", "solution",
              "reward", "penalty", "sop_transition", "attribution")


class ReportError(LookupError):
    """No such run."""


def incident_report(session, run_id: str, verify: bool = True) -> dict[str, Any]:
    run = session.run(run_id)
    if run is None:
        raise ReportError(f"no run {run_id!r} (see `rca-tui runs list`)")
    result = run.get("result") or {}
    stored = session.run_events(run_id)  # the order the tracer read the steps in
    events = sorted(stored, key=lambda e: e.seq)
    row = next((r for r in session.run_rows() if r["run_id"] == run_id), {})
    consensus = _consensus(session, result.get("consensus") or consensus_ref(events))
    report = {
        "run": {key: row.get(key) for key in ("run_id", "incident", "reasoner", "status", "root_cause", "truth",
                                               "correct", "blamed", "started")}
               | {"system": result.get("system"), "seconds": result.get("seconds"),
                  "dataset": run.get("dataset"), "seed": run.get("seed")},
        "alert": _first_answer(events, "alert_receiver", "alert"),
        "reason": result.get("reason"),
        "propagation_path": result.get("propagation_path") or [],
        "candidates": result.get("candidates") or [],
        "steps": [e for e in events if e.kind in STEP_KINDS],
        "votes": [{"agent": e.payload.get("agent"), "option": e.payload.get("option"),
                   "weight": e.payload.get("weight"), "block": e.block_height}
                  for e in events if e.kind == "vote_cast"],
        "proposals": result.get("proposals") or [],
        "tally": next((e.payload.get("tally") for e in reversed(events) if e.kind == "consensus"), None),
        "consensus": consensus,
        "repair_steps": result.get("repair_steps") or [],
        "fault_type": result.get("fault_type"),  # the type the repair plan goes by, and the tool that named it
        "tamo": _tamo_report(events),
        "attribution": next((e.payload for e in reversed(events) if e.kind == "attribution"), None),
        "step_seqs": step_seqs(stored),  # Soft-IDG step → the event number (#) the timeline shows
        "warnings": result.get("warnings") or [],
        "verification": None,
    }
    if verify:
        checked = session.verify()
        report["verification"] = {"ok": checked.ok, "blocks": checked.blocks, "transactions": checked.transactions,
                                  "findings": [f"block {f.height}: {f.what}: {f.detail}" for f in checked.findings]}
    return report


def consensus_ref(events: list[RunEvent]) -> dict | None:
    """The passed proposal's closing: its event position, block and the tx whose vote closed it."""
    for position in range(len(events) - 1, -1, -1):
        event = events[position]
        if event.kind == "consensus" and event.payload.get("outcome") == "passed":
            tx = next((e.payload.get("tx") for e in reversed(events[:position])
                       if e.kind == "tx_submitted" and e.block_height == event.block_height), None)
            return {"position": position, "seq": event.seq, "block": event.block_height, "tx": tx,
                    "proposal_id": event.payload.get("proposal_id"), "tally": event.payload.get("tally")}
    return None


def _first_answer(events: list[RunEvent], agent: str, key: str) -> Any:
    for event in events:
        if event.kind == "agent_action" and event.payload.get("agent") == agent and event.payload.get("answer"):
            answer = event.payload["answer"]
            return answer.get(key) if isinstance(answer, dict) else answer
    return None


def _tamo_report(events: list[RunEvent]) -> dict | None:
    for event in reversed(events):
        if event.kind == "observation" and event.payload.get("tool") == "tamo_report":
            result = event.payload.get("result") or {}
            return {**(result.get("report") or {}), "fault_probabilities": result.get("fault_type") or {}}
    return None


def _consensus(session, consensus: dict | None) -> dict | None:
    """The consensus tx, its block and its Merkle inclusion proof, checked against the block's stored root."""
    if not consensus or not consensus.get("tx"):
        return None
    found = session.tx(consensus["tx"])
    if found is None:
        return {**consensus, "proof": None}
    transaction, receipt, height = found
    merkle_proof, stored_root, _ = session.proof(consensus["tx"])
    return {**consensus, "block": height, "tx_type": transaction.tx_type,
            "sender": session.names().get(transaction.sender, transaction.sender), "receipt": receipt.status,
            "proof": {"index": merkle_proof.index, "path": proof_path(merkle_proof), "stored_root": stored_root,
                      "verified": verify_proof(merkle_proof, stored_root)}}
