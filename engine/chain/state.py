"""The world-state interface contracts and the VM program against; `engine.store.state` implements it on SQLite."""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from engine.chain.types import Account


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
