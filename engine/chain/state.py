"""World state persisted in SQLite: accounts and contract storage, with per-transaction savepoints.

Contracts reach state only through this class; they never write SQL.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import contextmanager
from typing import Any, Iterator

from engine.chain.types import Account, canonical_json


class WorldState:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def get_account(self, address: str) -> Account:
        row = self.conn.execute(
            "SELECT address, balance, nonce, stake, reputation FROM accounts WHERE address = ?", (address,)
        ).fetchone()
        return Account(*row) if row else Account(address)

    def has_account(self, address: str) -> bool:
        return self.conn.execute("SELECT 1 FROM accounts WHERE address = ?", (address,)).fetchone() is not None

    def put_account(self, account: Account) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO accounts (address, balance, nonce, stake, reputation) VALUES (?, ?, ?, ?, ?)",
            (account.address, account.balance, account.nonce, account.stake, account.reputation),
        )

    def adjust(self, address: str, balance: int = 0, nonce: int = 0) -> None:
        """Add to an account's balance and nonce in one statement (the gas path runs this on every tx)."""
        self.conn.execute(
            "INSERT INTO accounts (address, balance, nonce, stake, reputation) VALUES (?, ?, ?, 0, ?)"
            " ON CONFLICT (address) DO UPDATE SET balance = balance + excluded.balance, nonce = nonce + excluded.nonce",
            (address, balance, nonce, Account.__dataclass_fields__["reputation"].default),
        )

    def accounts(self) -> list[Account]:
        rows = self.conn.execute("SELECT address, balance, nonce, stake, reputation FROM accounts ORDER BY address")
        return [Account(*row) for row in rows]

    def storage_get(self, contract: str, key: str, default: Any = None) -> Any:
        row = self.conn.execute(
            "SELECT value FROM contract_storage WHERE contract = ? AND key = ?", (contract, key)
        ).fetchone()
        return json.loads(row[0]) if row else default

    def storage_set(self, contract: str, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO contract_storage (contract, key, value) VALUES (?, ?, ?)",
            (contract, key, canonical_json(value)),
        )

    def storage_items(self, contract: str, prefix: str = "") -> list[tuple[str, Any]]:
        rows = self.conn.execute(
            "SELECT key, value FROM contract_storage WHERE contract = ? AND key >= ? AND key < ? ORDER BY key",
            (contract, prefix, prefix + "\uffff"),
        )
        return [(key, json.loads(value)) for key, value in rows]

    @contextmanager
    def savepoint(self, name: str = "tx") -> Iterator[None]:
        """All writes inside either land together or are undone together."""
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    def state_root(self) -> str:
        """sha256 over every account and every contract-storage row, in key order."""
        digest = hashlib.sha256()
        for row in self.conn.execute(
            "SELECT address, balance, nonce, stake, reputation FROM accounts ORDER BY address"
        ):
            digest.update(canonical_json(list(row)).encode())
        digest.update(b"|storage|")
        for row in self.conn.execute("SELECT contract, key, value FROM contract_storage ORDER BY contract, key"):
            digest.update(canonical_json(list(row)).encode())
        return digest.hexdigest()

    def total_supply(self) -> int:
        row = self.conn.execute("SELECT COALESCE(SUM(balance + stake), 0) FROM accounts").fetchone()
        return int(row[0])
