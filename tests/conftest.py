"""Fixtures shared by every test folder: a fresh ledger with deterministic keys, and the datasets path."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.chain.crypto import PrivateKey
from engine.ledger.anchor import Anchor
from engine.ledger.chain import Chain
from engine.clock import FixedClock
from engine.config import settings
from engine.store.db import open_db

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("RCA_TUI_DATASETS", REPO.parent / "shared" / "datasets"))


class Ledger:
    """A chain with an authority, three funded members and one outsider, for contract and property tests."""

    def __init__(self, path: Path):
        self.authority = PrivateKey.from_seed("authority")
        self.members = [PrivateKey.from_seed(f"member-{i}") for i in range(3)]
        self.outsider = PrivateKey.from_seed("outsider")
        self.chain = Chain(open_db(path), Anchor.beside(path), clock=FixedClock())
        alloc = {k.address: 100_000 for k in [self.authority, *self.members, self.outsider]}
        alloc["0" * 40] = 1_000_000
        names = {k.address: f"member-{i}" for i, k in enumerate(self.members)}
        self.chain.create_genesis(alloc, self.authority.address, [k.address for k in self.members], names,
                                  voting_period_blocks=10)

    def send(self, key: PrivateKey, tx_type: str, payload: dict, **kwargs):
        """Sign, admit and mine one tx; return its receipt."""
        tx = self.chain.build_tx(key, tx_type, payload, **kwargs)
        self.chain.submit(tx)
        self.chain.mine()
        return self.chain.transaction(tx.hash)[1]

    def account(self, key: PrivateKey):
        return self.chain.state.get_account(key.address)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """$RCA_TUI_CACHE in this test's tmp_path, read afresh; worker processes the test starts inherit it."""
    monkeypatch.setenv("RCA_TUI_CACHE", str(tmp_path / "cache"))
    settings.cache_clear()
    return tmp_path / "cache"


@pytest.fixture(autouse=True)
def fresh_settings():
    """engine.config reads the environment once per process; a test that sets a variable gets a fresh read."""
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.db")


@pytest.fixture
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"datasets not found at {DATASETS}")
    return DATASETS
