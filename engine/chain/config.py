"""The chain's constants and the configuration every contract call sees (read from genesis)."""
from __future__ import annotations

from dataclasses import dataclass

CHAIN_ID = "rca-tui-dao-1"
TREASURY = "0" * 40
VOTING_PERIOD_BLOCKS = 20
REPUTATION_BASELINE = 50  # a new account's reputation; vote weight grows only above it
TEXT_MAX_CHARS = 4000  # summaries and reasons an agent writes into a payload
REASON_MAX_CHARS = 1000  # the executor's reasons for rewards and penalties
MIN_GAS_PRICE = 1  # every tx pays for its gas except the authority's settlement txs


@dataclass(frozen=True)
class ChainConfig:
    chain_id: str
    authority: str  # the DAO executor's address: the only sender allowed to pay rewards and penalties
    members: tuple[str, ...] = ()
    voting_period_blocks: int = VOTING_PERIOD_BLOCKS
