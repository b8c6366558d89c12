"""The world-state interface contracts and the VM program against, and the state root over it.

`engine.store.state` implements it on SQLite, `engine.ledger.memory_state` in memory (over SQLite or alone)."""
from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from typing import Any, Iterable, Protocol

from engine.chain.types import Account, canonical_json


class WorldState(Protocol):
    def get_account(self, address: str) -> Account: ...

    def has_account(self, address: str) -> bool: ...

    def put_account(self, account: Account) -> None: ...

    def adjust(self, address: str, balance: int = 0, nonce: int = 0) -> None:
        """Add to an account's balance and nonce (creating the account if needed)."""

    def storage_get(self, contract: str, key: str, default: Any = None) -> Any: ...

    def storage_set(self, contract: str, key: str, value: Any) -> None: ...

    def savepoint(self) -> AbstractContextManager[None]:
        """All writes inside either land together or are undone together."""


def state_root(account_rows: Iterable[tuple], storage_rows: Iterable[tuple]) -> str:
    """sha256 over every account (address, balance, nonce, stake, reputation) in address order, then every
    contract-storage row (contract, key, JSON text) in (contract, key) order."""
    digest = hashlib.sha256()
    for row in account_rows:
        digest.update(canonical_json(list(row)).encode())
    digest.update(b"|storage|")
    for row in storage_rows:
        digest.update(canonical_json(list(row)).encode())
    return digest.hexdigest()
