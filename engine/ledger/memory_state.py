"""The world state in dictionaries: what mining executes a block on (over the SQLite state, written back once per
block) and what verify re-executes a whole chain on (nothing behind it). No SQL round trip per transaction.

Savepoints are an undo journal: a reverted contract call restores exactly the entries it wrote.
"""
from __future__ import annotations

import json
from typing import Any

from engine.chain.state import state_root
from engine.chain.types import Account, canonical_json
from engine.store.state import SqliteState


class MemoryState:
    """Implements `engine.chain.state.WorldState`; reads fall through to `backing` once per key when given."""

    def __init__(self, backing: SqliteState | None = None):
        self.backing = backing
        self._accounts: dict[str, Account | None] = {}
        self._storage: dict[tuple[str, str], str | None] = {}  # JSON text, as SQLite stores it
        self._dirty: set[tuple[dict, Any]] = set()
        self._journal: list[tuple[dict, Any, Any]] | None = None

    # ---- accounts ------------------------------------------------------------------------------------------
    def _find(self, address: str) -> Account | None:
        try:
            return self._accounts[address]
        except KeyError:
            found = self.backing.find_account(address) if self.backing else None
            self._accounts[address] = found
            return found

    def get_account(self, address: str) -> Account:
        return self._find(address) or Account(address)

    def has_account(self, address: str) -> bool:
        return self._find(address) is not None

    def put_account(self, account: Account) -> None:
        self._find(account.address)
        self._write(self._accounts, account.address, account)

    def adjust(self, address: str, balance: int = 0, nonce: int = 0) -> None:
        current = self._accounts[address] if address in self._accounts else self._find(address)
        if current is None:
            current = Account(address)
        self._write(self._accounts, address, Account(address, current.balance + balance, current.nonce + nonce,
                                                     current.stake, current.reputation))

    def accounts(self) -> list[Account]:
        return [self._accounts[a] for a in sorted(self._accounts) if self._accounts[a] is not None]

    # ---- contract storage ----------------------------------------------------------------------------------
    def _text(self, contract: str, key: str) -> str | None:
        try:
            return self._storage[(contract, key)]
        except KeyError:
            found = self.backing.storage_text(contract, key) if self.backing else None
            self._storage[(contract, key)] = found
            return found

    def storage_get(self, contract: str, key: str, default: Any = None) -> Any:
        text = self._text(contract, key)
        return json.loads(text) if text is not None else default

    def storage_set(self, contract: str, key: str, value: Any) -> None:
        self._text(contract, key)
        self._write(self._storage, (contract, key), canonical_json(value))

    def storage_rows(self) -> dict[tuple[str, str], str]:
        return {key: text for key, text in self._storage.items() if text is not None}

    # ---- writes, savepoints, roots -------------------------------------------------------------------------
    def _write(self, table: dict, key: Any, value: Any) -> None:
        if self._journal is not None:
            self._journal.append((table, key, table[key]))
        table[key] = value
        if self.backing is not None:
            self._dirty.add((id(table), key))

    def savepoint(self, name: str = "tx") -> _Savepoint:
        return _Savepoint(self)

    def flush(self) -> None:
        """Write every changed account and storage row back to `backing`."""
        accounts = [self._accounts[k] for t, k in self._dirty if t == id(self._accounts) and self._accounts[k]]
        storage = [(*k, self._storage[k]) for t, k in self._dirty if t == id(self._storage) and self._storage[k]]
        self.backing.write_rows(sorted(accounts, key=lambda a: a.address), sorted(storage))
        self._dirty.clear()

    def state_root(self) -> str:
        if self.backing is not None:
            self.flush()
            return self.backing.state_root()
        accounts = [(a.address, a.balance, a.nonce, a.stake, a.reputation) for a in self.accounts()]
        return state_root(accounts, [(*key, text) for key, text in sorted(self.storage_rows().items())])


class _Savepoint:
    """Writes inside land together, or an exception undoes them from the journal (a class, not a generator:
    every transaction opens one)."""

    def __init__(self, state: MemoryState):
        self.state = state

    def __enter__(self) -> None:
        self.outer, self.state._journal = self.state._journal, []

    def __exit__(self, exc_type, exc, traceback) -> None:
        journal, self.state._journal = self.state._journal, self.outer
        if exc_type is not None:
            for table, key, previous in reversed(journal):
                table[key] = previous
        elif self.outer is not None:
            self.outer.extend(journal)
