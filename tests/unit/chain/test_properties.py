"""Ledger invariants under random transaction sequences (hypothesis)."""
from dataclasses import replace

from hypothesis import HealthCheck, example, given, settings, strategies as st

from engine.ledger.mempool import RejectCode, TxRejected

ACTIONS = st.lists(st.tuples(
    st.sampled_from(["transfer", "stake", "unstake", "reward", "slash", "vote", "forge", "replay", "malformed"]),
    st.integers(0, 3), st.integers(0, 3), st.integers(1, 200_000)), min_size=1, max_size=25)


def _tx_for(ledger, action, who, whom, amount):
    keys = [*ledger.members, ledger.outsider]
    key, other = keys[who], keys[whom]
    chain = ledger.chain
    if action == "transfer":
        return chain.build_tx(key, "token.transfer", {"to": other.address, "amount": amount})
    if action == "stake":
        return chain.build_tx(key, "token.stake", {"amount": amount})
    if action == "unstake":
        return chain.build_tx(key, "token.unstake", {"amount": amount})
    if action == "reward":
        return chain.build_tx(ledger.authority, "token.reward", {"to": other.address, "amount": amount,
                                                                 "reason": "prop"})
    if action == "slash":
        return chain.build_tx(ledger.authority, "token.slash", {"target": other.address, "amount": amount,
                                                                "reason": "prop"})
    if action == "vote":
        return chain.build_tx(key, "gov.vote", {"proposal_id": ledger.proposal_id, "option": "against",
                                                "stake": 10 + amount % 500})
    honest = chain.build_tx(key, "token.transfer", {"to": other.address, "amount": 1})
    if action == "forge":
        return replace(honest, payload={"to": other.address, "amount": amount + 1})
    if action == "malformed":
        return replace(honest, payload={"to": other.address, "amount": str(amount)})
    return honest  # "replay": sent twice below


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
@example(actions=[("transfer", 1, 0, 99562), ("stake", 1, 0, 1)])  # the sender is left unable to pay gas
def test_supply_conserved_nonces_increase_and_bad_txs_change_nothing(tmp_path_factory, actions):
    from tests.conftest import Ledger

    ledger = Ledger(tmp_path_factory.mktemp("prop") / "l.db")
    ledger.proposal_id = _open_proposal(ledger)
    state = ledger.chain.state
    supply = state.total_supply()
    nonces = {a.address: a.nonce for a in state.accounts()}
    for action, who, whom, amount in actions:
        tx = _tx_for(ledger, action, who, whom, amount)
        root_before = state.state_root()
        try:
            ledger.chain.submit(tx)
        except TxRejected as rejected:
            assert action in ("forge", "malformed") or _cannot_pay_gas(state, tx, rejected)
            assert state.state_root() == root_before
            continue
        assert action not in ("forge", "malformed")
        ledger.chain.mine()
        if action == "replay":
            try:
                ledger.chain.submit(tx)
                raise AssertionError("a replayed transaction was admitted")
            except TxRejected:
                pass
        assert state.total_supply() == supply
        _assert_nothing_negative(state)
        for account in state.accounts():
            assert account.nonce >= nonces.get(account.address, 0)
        assert state.get_account(tx.sender).nonce == nonces.get(tx.sender, 0) + 1
        nonces = {a.address: a.nonce for a in state.accounts()}
    assert ledger.chain.mempool.pending == []


def _cannot_pay_gas(state, tx, rejected: TxRejected) -> bool:
    """An honest tx is refused only when its sender's balance no longer covers the gas it offers."""
    return (rejected.code == RejectCode.INSUFFICIENT_FUNDS
            and state.get_account(tx.sender).balance < tx.gas_limit * tx.gas_price)


def _open_proposal(ledger) -> str:
    """An incident with a proposal open long enough for the votes in a sequence (they lock stake)."""
    proposer = ledger.members[0]
    ledger.send(proposer, "token.stake", {"amount": 1000})
    ledger.send(proposer, "sop.open", {"incident_id": "prop"})
    ledger.send(proposer, "sop.collect", {"incident_id": "prop", "evidence_hash": "e" * 64})
    tx = ledger.chain.build_tx(proposer, "gov.propose", {"incident_id": "prop", "root_cause": "db", "stake": 100})
    ledger.chain.submit(tx)
    ledger.chain.mine()
    return tx.hash


def _assert_nothing_negative(state) -> None:
    from engine.contracts.token import locked_stake

    for account in state.accounts():
        locked = locked_stake(state, account.address)
        assert account.balance >= 0 and account.stake >= 0 and locked >= 0, account
        assert account.stake - locked >= 0, (account, locked)


def test_a_slash_of_locked_stake_leaves_no_negative_free_stake(ledger):
    from engine.contracts.token import locked_stake

    ledger.proposal_id = _open_proposal(ledger)
    voter = ledger.members[1]
    ledger.send(voter, "token.stake", {"amount": 300})
    ledger.send(voter, "gov.vote", {"proposal_id": ledger.proposal_id, "option": "against", "stake": 300})
    ledger.send(ledger.authority, "token.slash", {"target": voter.address, "amount": 300, "reason": "wrong"},
                gas_price=0)
    account = ledger.account(voter)
    assert account.stake == 0 and locked_stake(ledger.chain.state, voter.address) == 0
