"""What every contract method receives and how it fails."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.chain.config import ChainConfig
from engine.chain.state import WorldState
from engine.chain.types import Account, Event, Transaction


class Revert(Exception):
    """A contract refused the transaction; every state change it made is rolled back.

    `malicious` failures (replaying a vote, spending someone else's lock) keep the gas they used; honest ones
    (a step out of SOP order, a proposal that already closed) are refunded, as the mABC-DAO design describes.
    """

    def __init__(self, reason: str, malicious: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.malicious = malicious


@dataclass
class CallContext:
    state: WorldState
    tx: Transaction
    height: int
    timestamp: int
    config: ChainConfig
    events: list[Event] = field(default_factory=list)

    @property
    def sender(self) -> str:
        return self.tx.sender

    def emit(self, contract: str, name: str, **data: Any) -> None:
        self.events.append(Event(name, contract, data))

    def account(self, address: str) -> Account:
        return self.state.get_account(address)

    def require_authority(self) -> None:
        if self.sender != self.config.authority:
            raise Revert(f"only the DAO authority may send {self.tx.tx_type}", malicious=True)
