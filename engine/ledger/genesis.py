"""Genesis: the initial allocation, and the chain configuration it fixes for good."""
from __future__ import annotations

from engine.chain.config import TREASURY, ChainConfig
from engine.chain.state import WorldState
from engine.chain.types import Account, canonical_json, sha256_hex

GENESIS_PREV_HASH = "0" * 64


def apply_genesis(state: WorldState, genesis: dict) -> None:
    for address, balance in sorted(genesis["alloc"].items()):
        state.put_account(Account(address, balance=balance))
    if not state.has_account(TREASURY):
        state.put_account(Account(TREASURY))


def config_of(genesis: dict | None) -> ChainConfig | None:
    if genesis is None:
        return None
    return ChainConfig(genesis["chain_id"], genesis["authority"], tuple(genesis["members"]),
                       genesis["voting_period_blocks"])


def genesis_digest(genesis: dict) -> str:
    """What block 0 commits to (as its Merkle root) and the anchor pins: the whole genesis record."""
    return sha256_hex(canonical_json(genesis))
