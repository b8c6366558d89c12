"""SOP contract: one state machine per incident, Init → Data_Collected → Root_Cause_Proposed → Consensus → Solution.

A transaction that asks for a step the current state does not allow reverts. Governance moves an incident out
of Root_Cause_Proposed through `conclude_vote` (back to Data_Collected when a proposal is rejected).
"""
from __future__ import annotations

from enum import Enum

from engine.contracts.base import CallContext, Revert

NAME = "sop"


class SOPState(str, Enum):
    INIT = "Init"
    DATA_COLLECTED = "Data_Collected"
    ROOT_CAUSE_PROPOSED = "Root_Cause_Proposed"
    CONSENSUS = "Consensus"
    SOLUTION = "Solution"


ORDER = [s.value for s in SOPState]


def incident_key(case_id: str, run_id: str) -> str:
    """The incident id a run opens: one per run, so the same case can be investigated more than once."""
    return f"{case_id}#{run_id}"


def incident(ctx_state, incident_id: str) -> dict | None:
    return ctx_state.storage_get(NAME, f"incident:{incident_id}")


def resolution(state, run_id: str) -> dict | None:
    """The authority's signed result of a run (`incident.resolve`): status, result digest, root cause, truth, tx and
    height."""
    return state.storage_get(NAME, resolution_key(run_id))


RESOLVED_PREFIX = "resolved:"


def resolution_key(run_id: str) -> str:
    """SOP storage key of a run's signed resolution."""
    return RESOLVED_PREFIX + run_id


def open_incident(ctx: CallContext, payload: dict) -> None:
    incident_id = payload["incident_id"]
    if incident(ctx.state, incident_id) is not None:
        raise Revert(f"incident {incident_id} is already open")
    record = {"state": SOPState.INIT.value, "opened_by": ctx.sender, "alert": payload.get("alert", {}),
              "proposal_id": None, "history": []}
    _save(ctx, incident_id, record)
    ctx.emit(NAME, "IncidentOpened", incident_id=incident_id, state=SOPState.INIT.value)


def collect_data(ctx: CallContext, payload: dict) -> None:
    """Evidence is accepted in Init (moving to Data_Collected) and again in Data_Collected."""
    incident_id = payload["incident_id"]
    record = _require(ctx, incident_id, SOPState.INIT, SOPState.DATA_COLLECTED)
    if record["state"] == SOPState.INIT.value:
        _transition(ctx, incident_id, record, SOPState.DATA_COLLECTED)
    ctx.emit(NAME, "DataCollected", incident_id=incident_id, collector=ctx.sender,
             evidence_hash=payload["evidence_hash"], summary=payload.get("summary", ""))


def submit_solution(ctx: CallContext, payload: dict) -> None:
    incident_id = payload["incident_id"]
    record = _require(ctx, incident_id, SOPState.CONSENSUS)
    if payload["proposal_id"] != record["proposal_id"]:
        raise Revert(f"solution names proposal {payload['proposal_id']}, consensus was on {record['proposal_id']}")
    _transition(ctx, incident_id, record, SOPState.SOLUTION)
    ctx.emit(NAME, "SolutionSubmitted", incident_id=incident_id, proposal_id=record["proposal_id"],
             engineer=ctx.sender, steps=len(payload["repair_steps"]))


def require_state(ctx: CallContext, incident_id: str, *allowed: SOPState) -> dict:
    return _require(ctx, incident_id, *allowed)


def mark_proposed(ctx: CallContext, incident_id: str, proposal_id: str) -> None:
    record = _require(ctx, incident_id, SOPState.DATA_COLLECTED)
    record["proposal_id"] = proposal_id
    _transition(ctx, incident_id, record, SOPState.ROOT_CAUSE_PROPOSED)


def conclude_vote(ctx: CallContext, incident_id: str, proposal_id: str, passed: bool) -> None:
    """Governance's callback once a proposal is decided."""
    record = _require(ctx, incident_id, SOPState.ROOT_CAUSE_PROPOSED)
    if passed:
        _transition(ctx, incident_id, record, SOPState.CONSENSUS)
        ctx.emit(NAME, "ConsensusReached", incident_id=incident_id, proposal_id=proposal_id)
    else:
        record["proposal_id"] = None
        _transition(ctx, incident_id, record, SOPState.DATA_COLLECTED)
        ctx.emit(NAME, "ProposalRejected", incident_id=incident_id, proposal_id=proposal_id)


def _require(ctx: CallContext, incident_id: str, *allowed: SOPState) -> dict:
    record = incident(ctx.state, incident_id)
    if record is None:
        raise Revert(f"incident {incident_id} is not open")
    if record["state"] not in {s.value for s in allowed}:
        wanted = " or ".join(s.value for s in allowed)
        raise Revert(f"{ctx.tx.tx_type} needs incident {incident_id} in {wanted}, it is in {record['state']}")
    return record


def _transition(ctx: CallContext, incident_id: str, record: dict, target: SOPState) -> None:
    record["history"].append({"from": record["state"], "to": target.value, "height": ctx.height,
                              "tx": ctx.tx.hash})
    previous, record["state"] = record["state"], target.value
    _save(ctx, incident_id, record)
    ctx.emit(NAME, "StateChanged", incident_id=incident_id, previous=previous, state=target.value)


def _save(ctx: CallContext, incident_id: str, record: dict) -> None:
    ctx.state.storage_set(NAME, f"incident:{incident_id}", record)
