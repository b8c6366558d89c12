"""Signature checks one at a time and a batch at a time.

A check is a `SignatureJob`: the tx's public key, signature, signing digest and sender, nothing else, so chunks of
them travel to worker processes cheaply (verify sends them there with the rest of its stateless checks:
`engine.ledger.rerun`). libsecp256k1 runs without the GIL, so a batch being admitted is split over worker threads
while the caller waits; verify, which re-executes the chain in Python meanwhile, uses processes instead, as a
thread would queue behind it for the GIL at every step.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
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
    """Worker processes for verify's signature (and other stateless) checks: one per core beside the one
    re-executing the chain, at most 3."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(3, cores - 1))


@lru_cache(maxsize=4096)
def _address(public_key: str) -> str:
    return crypto.address_of(public_key)


PARALLEL_FROM = 64  # fewer signatures are checked inline: threads would cost more than they save


def signatures_valid(txs: list[Transaction]) -> list[bool]:
    """`signed_by_sender` of every tx, split over worker threads while the caller waits; the caller must not run
    Python meanwhile, or every check would queue behind it for the GIL."""
    if len(txs) < PARALLEL_FROM:
        return [signed_by_sender(tx) for tx in txs]
    threads = _threads()._max_workers
    size = -(-len(txs) // threads)
    chunks = [[signature_job(tx) for tx in txs[start:start + size]] for start in range(0, len(txs), size)]
    return [ok for chunk in _threads().map(_check_all, chunks) for ok in chunk]


def _check_all(jobs: list[SignatureJob | None]) -> list[bool]:
    return [check_signature(job) for job in jobs]


@lru_cache(maxsize=1)
def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(min(4, os.cpu_count() or 1), thread_name_prefix="signatures")
