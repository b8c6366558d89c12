"""What the chain commits beside its transactions: the run events the console shows and the runs' results.

* Every block's seal signs its hash together with the Merkle root of the run events written up to it (those of
  its own hook included), so no event can be edited, dropped or slipped in once a block has committed it.
* A run's result is signed by the DAO authority in an `incident.resolve` tx: a digest of the run's row, its
  consensus root cause and the ground truth it was scored against. Slashes read the truth from there.
"""
from __future__ import annotations

import hashlib
import json

from engine.chain import merkle
from engine.chain.types import canonical_json, sha256_hex
from engine.contracts import sop

RESOLVE_TX = "incident.resolve"


def event_hash(stored: tuple) -> str:
    """The hash a block commits for one event row (run_id, seq, kind, ts, block_height, payload JSON text)."""
    return sha256_hex(canonical_json(list(stored[:6])))


def events_root(hashes: list[str]) -> str:
    return merkle.merkle_root(hashes)


def seal_digest(block_hash: str, committed_events_root: str | None) -> bytes:
    """What the sealer signs: the block hash, and since v4 the root of the events the block committed."""
    if committed_events_root is None:  # a block sealed before events were committed
        return bytes.fromhex(block_hash)
    return hashlib.sha256(bytes.fromhex(block_hash) + bytes.fromhex(committed_events_root)).digest()


WALL_CLOCK_FIELDS = ("seconds",)  # how long a run took is measured, not decided: the same run may take longer


def run_digest(stored_run: tuple) -> str:
    """The digest an `incident.resolve` tx signs: the run's columns as stored (RUN_COLUMNS order), its result
    without wall-clock measurements, so the same run records the same chain on any machine."""
    return sha256_hex(canonical_json([*stored_run[:8], _decided(stored_run[8])]))


def _decided(result_text: str | None):
    try:
        result = json.loads(result_text) if result_text else None
    except ValueError:
        return result_text  # not JSON (edited by hand): digest the text itself
    if isinstance(result, dict):
        return {key: value for key, value in result.items() if key not in WALL_CLOCK_FIELDS}
    return result


SIGNED_FIELDS = {"status": "status", "root_cause": "root cause", "truth": "label root cause"}


def result_changes(stored_run: tuple, signed: dict) -> list[str]:
    """Where a stored run row (RUN_COLUMNS order) and the `incident.resolve` payload signed for it disagree on
    the fields the payload names: status, root cause, label root cause. Empty when they agree (then the row
    differs elsewhere: its times or the rest of its result). A result that is not JSON says nothing of them."""
    said = {"status": stored_run[5], **_said_by_result(stored_run[8])}
    return [f"{label} {said[key]!r} stored, {signed.get(key)!r} signed" for key, label in SIGNED_FIELDS.items()
            if said[key] != signed.get(key)]


def _said_by_result(result_text: str | None) -> dict:
    try:
        result = json.loads(result_text) if result_text else None
    except ValueError:
        result = None
    result = result if isinstance(result, dict) else {}
    label = result.get("label")
    return {"root_cause": result.get("root_cause"),
            "truth": label.get("root_cause") if isinstance(label, dict) else None}


def resolution_payload(stored_run: tuple, result: dict) -> dict:
    """The `incident.resolve` payload for a run row and its result: its digest, status, root cause and truth."""
    payload = {"run_id": stored_run[0], "status": stored_run[5], "result_digest": run_digest(stored_run),
               "incident_id": sop.incident_key(stored_run[1], stored_run[0])}
    root_cause = result.get("root_cause")
    truth = (result.get("label") or {}).get("root_cause")
    if isinstance(root_cause, str) and root_cause:
        payload["root_cause"] = root_cause
    if isinstance(truth, str) and truth:
        payload["truth"] = truth
    return payload
