"""The world state on SQLite: accounts and contract storage, with per-transaction savepoints.

Mining executes a block on `engine.ledger.memory_state.MemoryState`, which reads through `find_account` /
`storage_text` once per key and writes the block's changes back with `write_rows`; genesis runs on this class
directly. Raw SQL on purpose: these statements run per key of every block, and savepoints are not something
sqlite-utils exposes.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from typing import Any, Iterator

from engine.chain.state import state_root
from engine.chain.types import Account, canonical_json

ACCOUNT_COLUMNS = "address, balance, nonce, stake, reputation"


class SqliteState:
    """Implements `engine.chain.state.WorldState`."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def get_account(self, address: str) -> Account:
        return self.find_account(address) or Account(address)

    def find_account(self, address: str) -> Account | None:
        row = self.conn.execute(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE address = ?", (address,)).fetchone()
        return Account(*row) if row else None

    def storage_text(self, contract: str, key: str) -> str | None:
        row = self.conn.execute(
            "SELECT value FROM contract_storage WHERE contract = ? AND key = ?", (contract, key)
        ).fetchone()
        return row[0] if row else None

    def write_rows(self, accounts: list[Account], storage: list[tuple[str, str, str]]) -> None:
        """Write whole account rows and (contract, key, JSON text) storage rows at once."""
        self.conn.executemany(f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (address)"
                              " DO UPDATE SET balance = excluded.balance, nonce = excluded.nonce,"
                              " stake = excluded.stake, reputation = excluded.reputation",
                              [(a.address, a.balance, a.nonce, a.stake, a.reputation) for a in accounts])
        self.conn.executemany("INSERT INTO contract_storage (contract, key, value) VALUES (?, ?, ?)"
                              " ON CONFLICT (contract, key) DO UPDATE SET value = excluded.value", storage)

    def has_account(self, address: str) -> bool:
        return self.conn.execute("SELECT 1 FROM accounts WHERE address = ?", (address,)).fetchone() is not None

    def put_account(self, account: Account) -> None:
        self.conn.execute(
            f"INSERT OR REPLACE INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            (account.address, account.balance, account.nonce, account.stake, account.reputation),
        )

    def adjust(self, address: str, balance: int = 0, nonce: int = 0) -> None:
        """Add to an account's balance and nonce in one statement (the gas path runs this on every tx)."""
        self.conn.execute(
            f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?, ?, ?, 0, ?)"
            " ON CONFLICT (address) DO UPDATE SET balance = balance + excluded.balance, nonce = nonce + excluded.nonce",
            (address, balance, nonce, Account(address).reputation),
        )

    def accounts(self) -> list[Account]:
        return [Account(*row) for row in self.conn.execute(f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY address")]

    def storage_get(self, contract: str, key: str, default: Any = None) -> Any:
        text = self.storage_text(contract, key)
        return json.loads(text) if text is not None else default

    def storage_set(self, contract: str, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO contract_storage (contract, key, value) VALUES (?, ?, ?)",
            (contract, key, canonical_json(value)),
        )

    def storage_rows(self) -> dict[tuple[str, str], str]:
        """Every contract-storage value as stored (JSON text), by (contract, key)."""
        return {(r[0], r[1]): r[2] for r in self.conn.execute("SELECT contract, key, value FROM contract_storage")}

    @contextmanager
    def savepoint(self, name: str = "tx") -> Iterator[None]:
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    def state_root(self) -> str:
        return state_root(self.conn.execute(f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY address"),
                          self.conn.execute("SELECT contract, key, value FROM contract_storage ORDER BY contract, key"))

    def total_supply(self) -> int:
        row = self.conn.execute("SELECT COALESCE(SUM(balance + stake), 0) FROM accounts").fetchone()
        return int(row[0])
