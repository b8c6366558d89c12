"""`incident.resolve`: the DAO authority signs a run's result once the run ends (finished, failed or interrupted).

The record it keeps (`resolved:<run>`, in the SOP contract's storage) is what slashes read the truth from. A run
that ended with a proposal still open (its process died mid-vote) has the proposal closed as `abandoned`, so the
stake its proposer and voters locked is free again.
"""
from __future__ import annotations

from engine.contracts import governance, sop
from engine.contracts.base import CallContext, Revert


def resolve_run(ctx: CallContext, payload: dict) -> None:
    """The authority may sign a run again (a result gains fields after the run, such as the injected fault), but
    never with another root cause or another truth than it first signed."""
    ctx.require_authority()
    run_id = payload["run_id"]
    first = sop.resolution(ctx.state, run_id)
    for name in ("root_cause", "truth"):
        if first is not None and first.get(name) != payload.get(name):
            raise Revert(f"run {run_id} was resolved with {name} {first.get(name)!r} by tx {first['tx']}; "
                         f"a later resolution cannot change it to {payload.get(name)!r}", malicious=True)
    record = {key: payload.get(key) for key in ("status", "result_digest", "root_cause", "truth")}
    ctx.state.storage_set(sop.NAME, sop.resolution_key(run_id), {**record, "tx": ctx.tx.hash, "height": ctx.height})
    if payload.get("incident_id"):
        _abandon_open_proposal(ctx, payload["incident_id"])
    ctx.emit(sop.NAME, "IncidentResolved", run_id=run_id, **record)


def _abandon_open_proposal(ctx: CallContext, incident_id: str) -> None:
    incident = sop.incident(ctx.state, incident_id)
    if incident is None or incident["state"] != sop.SOPState.ROOT_CAUSE_PROPOSED.value:
        return
    proposal = governance.proposal(ctx.state, incident["proposal_id"])
    if proposal is not None and proposal["status"] == "open":
        governance.close(ctx, incident["proposal_id"], proposal, "abandoned")
