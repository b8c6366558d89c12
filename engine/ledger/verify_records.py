"""Verify what the console shows against what the chain committed: account names against genesis, every run event
against the hash its block's seal committed, and every run's row against the result the authority signed."""
from __future__ import annotations

import json
from itertools import groupby

from engine.contracts import sop
from engine.ledger.findings import Finding
from engine.ledger.records import event_hash, events_root, result_changes, run_digest
from engine.store.chain import ChainStore
from engine.store.runs import RunStore


def check_records(store: ChainStore, genesis: dict, sealed_roots: dict[int, str | None],
                  storage: dict[tuple[str, str], str]) -> list[Finding]:
    """`sealed_roots`: the events root each block's seal signs; `storage`: contract storage as re-executed."""
    runs = RunStore(store.conn)
    resolutions = {key[len(sop.RESOLVED_PREFIX):]: json.loads(value) for (contract, key), value in storage.items()
                   if contract == sop.NAME and key.startswith(sop.RESOLVED_PREFIX)}
    stored_runs = runs.stored_runs()
    in_progress = {row[0] for row in stored_runs if row[5] == "running" and row[0] not in resolutions}
    return [*_check_names(store, genesis), *_check_event_roots(runs, sealed_roots),
            *_check_events(runs, in_progress), *_check_runs(stored_runs, resolutions)]


def _check_names(store: ChainStore, genesis: dict) -> list[Finding]:
    if "names" not in genesis:  # a chain created before genesis recorded its names
        return []
    stored, signed = store.names(), genesis["names"]
    return [Finding(0, f"name of {address}", f"stored {stored.get(address)!r}, genesis says {signed.get(address)!r}")
            for address in sorted(set(stored) | set(signed)) if stored.get(address) != signed.get(address)]


def _check_event_roots(runs: RunStore, sealed_roots: dict[int, str | None]) -> list[Finding]:
    findings = []
    listed = {height: list(rows) for height, rows in groupby(runs.event_commits(), key=lambda row: row[0])}
    for height, root in sealed_roots.items():
        rows = listed.pop(height, [])
        if root is not None and events_root([row[3] for row in rows]) != root:
            findings.append(Finding(height, "events root", f"the {len(rows)} event hashes listed as committed here "
                                    f"({_ranges(rows)}) do not give the root its seal signs"))
    for height, rows in listed.items():
        findings.append(Finding(height, "events root", f"{len(rows)} events ({_ranges(rows)}) are listed as committed "
                                                       "by a block that committed none"))
    return findings


def _check_events(runs: RunStore, in_progress: set[str]) -> list[Finding]:
    findings = []
    for row in runs.events_with_commits():
        run_id, seq, kind, payload, height, committed = row[0], row[1], row[2], row[5], row[6], row[7]
        what = f"run {run_id} event {seq} ({kind})"
        if committed is None:
            if run_id not in in_progress:
                findings.append(Finding(None, what, "no block committed it and its run is not in progress (it was "
                                                    f"written after the run ended): {_short(payload)}"))
        elif event_hash(row) != committed:
            findings.append(Finding(height, what, f"differs from the event block {height} committed; stored now: "
                                                  f"{_short(payload)}"))
    for height, run_id, seq in runs.commits_without_event():
        findings.append(Finding(height, f"run {run_id} event {seq}",
                                f"committed by block {height} but missing from the events table"))
    return findings


def _check_runs(stored_runs: list[tuple], resolutions: dict[str, dict]) -> list[Finding]:
    findings = []
    for row in stored_runs:
        run_id, status = row[0], row[5]
        signed = resolutions.pop(run_id, None)
        if signed is None:
            if status != "running":
                findings.append(Finding(None, f"run {run_id}", f"stored as {status}, but no incident.resolve tx "
                                                               "signs its result"))
        elif status == "running":
            findings.append(Finding(signed["height"], f"run {run_id}", f"stored as running, but the authority "
                                    f"resolved it as {signed['status']} in tx {signed['tx'][:16]}"))
        elif run_digest(row) != signed["result_digest"]:
            findings.append(Finding(signed["height"], f"run {run_id} result", _difference(row, signed)))
    for run_id, signed in resolutions.items():
        findings.append(Finding(signed["height"], f"run {run_id}", f"resolved on chain by tx {signed['tx'][:16]} but "
                                                                   "its row is missing from runs"))
    return findings


def _difference(row: tuple, signed: dict) -> str:
    """What the stored run says against what the authority signed (the fields the signature names)."""
    changed, where = result_changes(row, signed), f"in tx {signed['tx'][:16]}"
    if changed:
        return f"differs from the result the authority signed {where}: {'; '.join(changed)}"
    return f"the stored row (result, status or times) differs from the digest the authority signed {where}"


def _ranges(rows: list[tuple]) -> str:
    spans = []
    for run_id, group in groupby(rows, key=lambda row: row[1]):
        seqs = [row[2] for row in group]
        spans.append(f"{run_id} {seqs[0]}..{seqs[-1]}" if len(seqs) > 1 else f"{run_id} {seqs[0]}")
    return ", ".join(spans) or "none"


def _short(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."

