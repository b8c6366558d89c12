"""The trust anchor beside the database: the sealer's key, the pinned genesis and the newest head sealed here.

Anyone who can write the SQLite file can re-execute edited history and re-derive every hash. They cannot sign
with the sealer's key, change the genesis pinned here, or cut the chain below the pinned head without verify
noticing. The pin lives in the keystore directory (`<db>.keys/`), written atomically, mode 0600.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from engine.chain.crypto import KeyStore, PrivateKey
from engine.store.errors import DatabaseUnusable

PIN_FILE = "anchor.json"
SEALER_KEY = "sealer"


@dataclass(frozen=True)
class Pin:
    genesis: str  # the hash of block 0
    config: str  # the digest of the genesis record (authority, members, allocation, sealer)
    head_height: int
    head_hash: str


class AnchorMissing(DatabaseUnusable):
    """No keystore or no pin beside the database: nothing to check the chain against."""


class Anchor:
    def __init__(self, directory: Path):
        self.directory = directory
        self._sealer: PrivateKey | None = None
        self._pin: Pin | None = None

    @classmethod
    def beside(cls, db_path: Path | str) -> Anchor:
        return cls(Path(str(db_path) + ".keys"))

    def has_sealer(self) -> bool:
        return (self.directory / f"{SEALER_KEY}.pem").exists()

    def sealer(self) -> PrivateKey:
        if self._sealer is None:
            self._sealer = KeyStore(self.directory).get_or_create(SEALER_KEY)
        return self._sealer

    def pin(self) -> Pin | None:
        if self._pin is None and (self.directory / PIN_FILE).exists():
            self._pin = Pin(**json.loads((self.directory / PIN_FILE).read_text()))
        return self._pin

    def require_pin(self) -> Pin:
        pin = self.pin()
        if pin is None:
            raise AnchorMissing(f"no trust anchor at {self.directory / PIN_FILE}: the keys and pinned genesis of "
                                "this database are missing, so its chain cannot be checked")
        return pin

    def pin_genesis(self, block_hash: str, config_digest: str) -> None:
        self._write(Pin(block_hash, config_digest, 0, block_hash))

    def advance(self, height: int, block_hash: str) -> None:
        """Move the pinned head forward (never back: a slower writer may report an older block)."""
        pin = self.pin()
        if pin is not None and height > pin.head_height:
            self._write(replace(pin, head_height=height, head_hash=block_hash))

    def _write(self, pin: Pin) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.directory / f".{PIN_FILE}.{os.getpid()}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(pin), handle)
        os.replace(partial, self.directory / PIN_FILE)
        self._pin = pin
