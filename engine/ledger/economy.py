"""Economy snapshots: the named accounts' leaderboard rows after each block, saved with the block."""
from __future__ import annotations

from engine.chain.state import WorldState
from engine.contracts import governance
from engine.contracts.token import locked_stake
from engine.ledger.rerun import rerun_blocks
from engine.store.chain import ChainStore


def economy_rows(state: WorldState, addresses: list[str]) -> list[dict]:
    rows = []
    for address in addresses:
        account = state.get_account(address)
        rows.append({"address": address, "balance": account.balance, "stake": account.stake,
                     "locked": locked_stake(state, address), "reputation": account.reputation,
                     "vote_weight": governance.vote_weight(account), "nonce": account.nonce})
    return rows


def backfill_snapshots(store: ChainStore) -> None:
    """Snapshots for a chain mined before they existed, by re-executing it once; the caller holds the
    transaction."""
    addresses = sorted(store.names())
    for rerun, shadow in rerun_blocks(store):
        store.save_snapshot(rerun.block.header.height, economy_rows(shadow, addresses))
    store.snapshots_done()
