"""The world state in dictionaries: what mining executes a block on (over the SQLite state, written back once per
block) and what verify re-executes a whole chain on (nothing behind it). No SQL round trip per transaction.

Savepoints are an undo journal: a reverted contract call restores exactly the entries it wrote.
"""
from __future__ import annotations

import json
from typing import Any

from engine.chain.state import state_root
from engine.chain.config import REPUTATION_BASELINE
from engine.chain.types import Account, canonical_json
from engine.store.state import SqliteState


Fields = tuple[int, int, int, int]  # an account's balance, nonce, stake, reputation
NEW_ACCOUNT: Fields = (0, 0, 0, REPUTATION_BASELINE)


class MemoryState:
    """Implements `engine.chain.state.WorldState`; reads fall through to `backing` once per key when given.

    Accounts are kept as plain `Fields` tuples (`adjust` runs several times per transaction, and building a frozen
    `Account` costs ten times a tuple); they become `Account`s where they are read."""

    def __init__(self, backing: SqliteState | None = None):
        self.backing = backing
        self._accounts: dict[str, Fields | None] = {}
        self._storage: dict[tuple[str, str], str | None] = {}  # JSON text, as SQLite stores it
        self._changed_accounts: set[str] = set()  # what `flush` writes back
        self._changed_storage: set[tuple[str, str]] = set()
        self._journal: list[tuple[dict, Any, Any]] | None = None

    # ---- accounts ------------------------------------------------------------------------------------------
    def _find(self, address: str) -> Fields | None:
        try:
            return self._accounts[address]
        except KeyError:
            found = self.backing.find_account(address) if self.backing else None
            fields = None if found is None else (found.balance, found.nonce, found.stake, found.reputation)
            self._accounts[address] = fields
            return fields

    def get_account(self, address: str) -> Account:
        return Account(address, *(self._find(address) or NEW_ACCOUNT))

    def has_account(self, address: str) -> bool:
        return self._find(address) is not None

    def put_account(self, account: Account) -> None:
        self._find(account.address)
        self._write(self._accounts, self._changed_accounts, account.address,
                    (account.balance, account.nonce, account.stake, account.reputation))

    def adjust(self, address: str, balance: int = 0, nonce: int = 0) -> None:
        old_balance, old_nonce, stake, reputation = self._find(address) or NEW_ACCOUNT
        self._write(self._accounts, self._changed_accounts, address,
                    (old_balance + balance, old_nonce + nonce, stake, reputation))

    def accounts(self) -> list[Account]:
        return [Account(a, *self._accounts[a]) for a in sorted(self._accounts) if self._accounts[a] is not None]

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
        self._write(self._storage, self._changed_storage, (contract, key), canonical_json(value))

    def storage_rows(self) -> dict[tuple[str, str], str]:
        return {key: text for key, text in self._storage.items() if text is not None}

    # ---- writes, savepoints, roots -------------------------------------------------------------------------
    def _write(self, table: dict, changed: set, key: Any, value: Any) -> None:
        """`key` has been read (so `table` holds it) before it is written."""
        if self._journal is not None:
            self._journal.append((table, key, table[key]))
        table[key] = value
        changed.add(key)

    def savepoint(self, name: str = "tx") -> _Savepoint:
        return _Savepoint(self)

    def flush(self) -> None:
        """Write every changed account and storage row back to `backing` (a change undone by a revert is written
        back as the value it returned to)."""
        accounts = [Account(a, *self._accounts[a]) for a in sorted(self._changed_accounts) if self._accounts[a]]
        storage = [(*key, self._storage[key]) for key in sorted(self._changed_storage) if self._storage[key]]
        self.backing.write_rows(accounts, storage)
        self._changed_accounts.clear()
        self._changed_storage.clear()

    def state_root(self) -> str:
        if self.backing is not None:
            self.flush()
            return self.backing.state_root()
        accounts = [(a, *fields) for a, fields in sorted(self._accounts.items()) if fields is not None]
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
