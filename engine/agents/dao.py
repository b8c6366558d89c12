"""DAO executor: every key decision of an agent becomes a signed transaction, mined into a block, and described by
run events written in the same SQLite transaction as the block."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.agents.roles import AUTHORITY, ROLES
from engine.chain.config import TREASURY
from engine.chain.crypto import KeyStore, PrivateKey
from engine.chain.types import Block, Receipt, Transaction
from engine.events import EventLog, RunEvent
from engine.ledger.chain import Chain, ChainError
from engine.ledger.mempool import TxRejected

AGENT_START_BALANCE = 10_000
TREASURY_START_BALANCE = 1_000_000
AUTHORITY_START_BALANCE = 100_000

CONTRACT_EVENT_KINDS = {
    "StateChanged": "sop_transition",
    "RootCauseProposed": "proposal",
    "VoteCast": "vote_cast",
    "ProposalClosed": "consensus",
    "SolutionSubmitted": "solution",
    "Reward": "reward",
    "Penalty": "penalty",
    "Slashed": "penalty",
}


class ChainActionFailed(RuntimeError):
    """A transaction was refused at admission; the chain is unchanged."""


@dataclass(frozen=True)
class Mined:
    tx: Transaction
    receipt: Receipt
    block: Block

    @property
    def ok(self) -> bool:
        return self.receipt.ok

    def ref(self) -> dict:
        return {"tx": self.tx.hash, "block": self.block.height, "status": self.receipt.status}


class Wallets:
    """The agents' and the executor's keys, kept in a 0600 keystore beside the database."""

    def __init__(self, keystore: KeyStore):
        self.keys: dict[str, PrivateKey] = {role.key: keystore.get_or_create(role.key) for role in ROLES}
        self.keys[AUTHORITY] = keystore.get_or_create(AUTHORITY)

    @classmethod
    def beside(cls, db_path: Path) -> Wallets:
        return cls(KeyStore(Path(str(db_path) + ".keys")))

    def address(self, name: str) -> str:
        return self.keys[name].address


def ensure_genesis(chain: Chain, wallets: Wallets) -> None:
    if chain.initialised:
        return
    alloc = {wallets.address(role.key): AGENT_START_BALANCE for role in ROLES}
    alloc[wallets.address(AUTHORITY)] = AUTHORITY_START_BALANCE
    alloc[TREASURY] = TREASURY_START_BALANCE
    names = {key.address: name for name, key in wallets.keys.items()}
    names[TREASURY] = "treasury"
    chain.create_genesis(alloc, wallets.address(AUTHORITY), [wallets.address(r.key) for r in ROLES], names)


class DaoExecutor:
    def __init__(self, chain: Chain, wallets: Wallets, events: EventLog, run_id: str):
        self.chain, self.wallets, self.events, self.run_id = chain, wallets, events, run_id

    def act(self, actor: str, tx_type: str, payload: dict) -> Mined:
        """Sign as `actor`, admit, mine a block with it; raise ChainActionFailed if admission refuses it."""
        return self.act_all([(actor, tx_type, payload)])[0]

    def act_all(self, actions: list[tuple[str, str, dict]]) -> list[Mined]:
        """Sign each (actor, tx_type, payload) and mine them all in one block (one phase of the protocol); if
        admission refuses one, nothing is mined and ChainActionFailed names it."""
        if not actions:
            return []
        # the executor's settlement txs (rewards, slashes, allowances) are gas-free, as in the mABC-DAO design
        orders = [(self.wallets.keys[actor], tx_type, payload, 0 if actor == AUTHORITY else 1)
                  for actor, tx_type, payload in actions]
        actors = {self.wallets.address(actor): actor for actor, _, _ in actions}
        published: list[RunEvent] = []
        mined_receipts: list[Receipt] = []

        def write_events(block: Block, receipts: list[Receipt]) -> None:
            mined_receipts.extend(receipts)
            published.extend(self._block_events(actors, block, receipts))
            self.events.write(published)

        try:
            txs, block = self.chain.sign_and_mine_all(orders, write_events)
        except TxRejected as exc:
            self.events.append(self.run_id, "tx_rejected", {"agent": actors.get(exc.tx.sender, exc.tx.sender),
                                                            "tx_type": exc.tx.tx_type, "code": exc.code.value,
                                                            "detail": exc.detail})
            raise ChainActionFailed(str(exc)) from exc
        except ChainError as exc:
            raise ChainActionFailed(str(exc)) from exc
        self.events.publish(published)
        return [Mined(tx, mined_receipts[block.transactions.index(tx)], block) for tx in txs]

    def _block_events(self, actors: dict[str, str], block: Block, receipts: list[Receipt]) -> list[RunEvent]:
        make = self.events.make
        out: list[RunEvent] = []
        for tx, receipt in zip(block.transactions, receipts):
            actor = actors.get(tx.sender, tx.sender)
            out.append(make(self.run_id, "tx_submitted", {
                "agent": actor, "tx": tx.hash, "tx_type": tx.tx_type, "status": receipt.status,
                "gas_used": receipt.gas_used, "revert_reason": receipt.revert_reason, "payload": tx.payload,
            }, block.height))
            for event in receipt.events:
                kind = CONTRACT_EVENT_KINDS.get(event.name)
                if kind:
                    out.append(make(self.run_id, kind, {"event": event.name, "agent": actor, **event.data},
                                    block.height))
        out.append(make(self.run_id, "block_mined", {"height": block.height, "hash": block.hash,
                                                     "tx_count": len(block.transactions),
                                                     "merkle_root": block.header.merkle_root}, block.height))
        return out
