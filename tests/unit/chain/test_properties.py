"""Ledger invariants under random transaction sequences (hypothesis)."""
from dataclasses import replace

from hypothesis import HealthCheck, given, settings, strategies as st

from engine.ledger.mempool import TxRejected

ACTIONS = st.lists(st.tuples(
    st.sampled_from(["transfer", "stake", "unstake", "reward", "slash", "forge", "replay", "malformed"]),
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
    honest = chain.build_tx(key, "token.transfer", {"to": other.address, "amount": 1})
    if action == "forge":
        return replace(honest, payload={"to": other.address, "amount": amount + 1})
    if action == "malformed":
        return replace(honest, payload={"to": other.address, "amount": str(amount)})
    return honest  # "replay": sent twice below


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_supply_conserved_nonces_increase_and_bad_txs_change_nothing(tmp_path_factory, actions):
    from tests.conftest import Ledger

    ledger = Ledger(tmp_path_factory.mktemp("prop") / "l.db")
    state = ledger.chain.state
    supply = state.total_supply()
    nonces = {a.address: a.nonce for a in state.accounts()}
    for action, who, whom, amount in actions:
        tx = _tx_for(ledger, action, who, whom, amount)
        root_before = state.state_root()
        try:
            ledger.chain.submit(tx)
        except TxRejected:
            assert action in ("forge", "malformed")
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
        for account in state.accounts():
            assert account.nonce >= nonces.get(account.address, 0)
        assert state.get_account(tx.sender).nonce == nonces.get(tx.sender, 0) + 1
        nonces = {a.address: a.nonce for a in state.accounts()}
    assert ledger.chain.mempool.pending == []
