"""Signature checks: the tx's public key must be its sender's and sign the digest of its fields.

A batch of txs is checked in worker processes with the rest of their stateless checks (`engine.ledger.stateless`),
while the main process admits and executes (mining) or re-executes (verify) the batch before: a thread would queue
behind that Python work for the GIL at every step.
"""
from __future__ import annotations

import os
from functools import lru_cache

from engine.chain import crypto
from engine.chain.types import Transaction

SignatureJob = tuple[str, str, bytes, str]  # public key, signature, signing digest, sender


def signature_job(tx: Transaction) -> SignatureJob | None:
    """None when the tx cannot even be hashed (a field of the wrong type): its signature does not verify."""
    try:
        return tx.public_key, tx.signature, tx.signing_digest(), tx.sender
    except (TypeError, ValueError):
        return None


def check_signature(job: SignatureJob | None) -> bool:
    """The public key is the sender's (its address) and the signature over the digest verifies with it."""
    if job is None:
        return False
    public_key, signature, digest, sender = job
    try:
        return _address(public_key) == sender and crypto.verify(public_key, signature, digest)
    except (TypeError, ValueError):
        return False


def signed_by_sender(tx: Transaction) -> bool:
    return check_signature(signature_job(tx))


def signature_processes() -> int:
    """Worker processes for the signature (and other stateless) checks of verify and mining: one per core beside
    the one executing, at most 3."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(3, cores - 1))


@lru_cache(maxsize=4096)
def _address(public_key: str) -> str:
    return crypto.address_of(public_key)

