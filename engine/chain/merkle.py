"""Merkle roots and inclusion proofs over transaction hashes (RFC 6962 style).

Leaves and inner nodes are hashed with different prefixes, and an odd node is promoted unchanged rather than
paired with itself, so two different transaction lists can never share a root.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def _leaf(tx_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(tx_hash)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _next_level(level: list[bytes]) -> list[bytes]:
    paired = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        paired.append(level[-1])
    return paired


def merkle_root(tx_hashes: list[str]) -> str:
    if not tx_hashes:
        return EMPTY_ROOT
    level = [_leaf(h) for h in tx_hashes]
    while len(level) > 1:
        level = _next_level(level)
    return level[0].hex()


@dataclass(frozen=True)
class ProofStep:
    sibling: str
    side: str  # "left" when the sibling is on the left of the running hash


@dataclass(frozen=True)
class MerkleProof:
    tx_hash: str
    index: int
    steps: tuple[ProofStep, ...]
    root: str

    def to_dict(self) -> dict:
        return {
            "tx_hash": self.tx_hash,
            "index": self.index,
            "root": self.root,
            "steps": [{"sibling": s.sibling, "side": s.side} for s in self.steps],
        }


def build_proof(tx_hashes: list[str], index: int) -> MerkleProof:
    if not 0 <= index < len(tx_hashes):
        raise IndexError(f"transaction index {index} outside a block of {len(tx_hashes)}")
    level = [_leaf(h) for h in tx_hashes]
    position, steps = index, []
    while len(level) > 1:
        sibling = position ^ 1
        if sibling < len(level):
            steps.append(ProofStep(level[sibling].hex(), "left" if sibling < position else "right"))
        level = _next_level(level)
        position //= 2
    return MerkleProof(tx_hashes[index], index, tuple(steps), level[0].hex())


def proof_path(proof: MerkleProof) -> list[str]:
    """The running hashes from the leaf up to the computed root (what the explorer draws)."""
    current = _leaf(proof.tx_hash)
    path = [current.hex()]
    for step in proof.steps:
        sibling = bytes.fromhex(step.sibling)
        current = _node(sibling, current) if step.side == "left" else _node(current, sibling)
        path.append(current.hex())
    return path


def verify_proof(proof: MerkleProof, expected_root: str) -> bool:
    try:
        return proof_path(proof)[-1] == expected_root
    except ValueError:
        return False
