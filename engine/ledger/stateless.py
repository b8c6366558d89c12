"""The checks a transaction needs no state for: its signature (by the sender's key, over the digest of its fields)
and its shape (field types, tx type, payload schema), as admission requires them.

They run in a worker process (`engine.parallel.AheadMap`) ahead of the work that needs state: verify re-executing
the stored chain, mining executing the batch before. A job is the tx's plain fields (cheap to pickle); the hashes
computed there (signing digest, tx hash, canonical payload) come back with the verdict, so the caller never hashes
the fields again.
"""
from __future__ import annotations

from dataclasses import fields
from operator import attrgetter

from engine.chain.types import Hashes, Transaction, hashes_of
from engine.chain.wellformed import field_problem
from engine.contracts.registry import method_for, validate_payload
from engine.contracts.schema import MalformedPayload
from engine.ledger.signatures import check_signature, signature_job, signature_processes
from engine.parallel import AheadMap

TxJob = tuple  # a tx's fields in Transaction order
Checked = tuple[Hashes | None, bool, str | None]
"""The tx's hashes (None where its fields cannot be hashed), whether the signature verifies for the sender, and
what is wrong with its shape (None: nothing)."""

tx_job = attrgetter(*(f.name for f in fields(Transaction)))


def stateless_checks() -> AheadMap:
    """`check_txs` on chunks of jobs in worker processes, while the caller goes on with the chunk before."""
    return AheadMap(check_txs, signature_processes())


def check_txs(jobs: list[TxJob]) -> list[Checked]:
    """`Checked` for each job (what a worker process runs on a chunk of them)."""
    return [_check(Transaction(*values)) for values in jobs]


def _check(tx: Transaction) -> Checked:
    return hashes_of(tx), check_signature(signature_job(tx)), shape_problem(tx)


def adopt_hashes(tx: Transaction, checked: Checked) -> None:
    """Give `tx` the hashes its check computed from the same fields."""
    if checked[0] is not None:
        tx.adopt_hashes(checked[0])


def shape_problem(tx: Transaction) -> str | None:
    """Fields, type and payload as admission requires them (what a tx read back from a file may lack)."""
    problem = field_problem(tx)
    if problem or method_for(tx.tx_type) is None:
        return problem or f"unknown tx type {tx.tx_type!r}"
    try:
        validate_payload(tx.tx_type, tx.payload)
    except MalformedPayload as exc:
        return str(exc)
    return None
