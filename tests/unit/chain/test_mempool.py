from dataclasses import replace

import pytest

from engine.ledger.mempool import RejectCode, TxRejected


def _state_snapshot(ledger):
    return ledger.chain.state.state_root(), ledger.chain.height, len(ledger.chain.mempool)


def _resign(ledger, key, tx):
    return tx.with_signature(key.public_key, key.sign_digest(tx.signing_digest()))


def _rejected(ledger, tx, code):
    before = _state_snapshot(ledger)
    with pytest.raises(TxRejected) as caught:
        ledger.chain.submit(tx)
    assert caught.value.code == code
    assert _state_snapshot(ledger) == before
    return caught.value


def _transfer(ledger, **overrides):
    key = ledger.members[0]
    tx = ledger.chain.build_tx(key, "token.transfer", {"to": ledger.members[1].address, "amount": 5})
    return _resign(ledger, key, replace(tx, **overrides)) if overrides else tx


def test_tampered_payload_is_a_bad_signature(ledger):
    tx = _transfer(ledger)
    forged = replace(tx, payload={**tx.payload, "amount": 5000})
    assert "signature" in _rejected(ledger, forged, RejectCode.BAD_SIGNATURE).detail


def test_signature_from_someone_else_is_rejected(ledger):
    tx = _transfer(ledger)
    thief = ledger.outsider
    _rejected(ledger, tx.with_signature(thief.public_key, thief.sign_digest(tx.signing_digest())),
              RejectCode.BAD_SIGNATURE)


def test_wrong_chain_id(ledger):
    _rejected(ledger, _transfer(ledger, chain_id="other-chain"), RejectCode.WRONG_CHAIN)


def test_replayed_transaction_is_a_bad_nonce(ledger):
    tx = _transfer(ledger)
    ledger.chain.submit(tx)
    ledger.chain.mine()
    error = _rejected(ledger, tx, RejectCode.BAD_NONCE)
    assert "expected 1" in error.detail


def test_nonce_from_the_future_is_rejected(ledger):
    _rejected(ledger, _transfer(ledger, nonce=7), RejectCode.BAD_NONCE)


def test_gas_below_intrinsic_cost(ledger):
    _rejected(ledger, _transfer(ledger, gas_limit=10), RejectCode.INTRINSIC_GAS)


def test_balance_below_gas_limit_times_price(ledger):
    _rejected(ledger, _transfer(ledger, gas_price=10_000), RejectCode.INSUFFICIENT_FUNDS)


def test_unknown_type(ledger):
    _rejected(ledger, _transfer(ledger, tx_type="token.mint"), RejectCode.UNKNOWN_TYPE)


@pytest.mark.parametrize("payload, field", [
    ({"to": "not-an-address", "amount": 5}, "to"),
    ({"to": "ab" * 20, "amount": -1}, "amount"),
    ({"to": "ab" * 20, "amount": "5"}, "amount"),
    ({"to": "ab" * 20}, "amount"),
    ({"to": "ab" * 20, "amount": 5, "memo": "x"}, "memo"),
])
def test_malformed_payload_names_the_field(ledger, payload, field):
    error = _rejected(ledger, _transfer(ledger, payload=payload), RejectCode.MALFORMED_PAYLOAD)
    assert f"'{field}'" in error.detail


def test_pending_transactions_reserve_gas_and_nonces(ledger):
    key = ledger.members[0]
    first = ledger.chain.build_tx(key, "token.transfer", {"to": ledger.members[1].address, "amount": 1})
    ledger.chain.submit(first)
    second = ledger.chain.build_tx(key, "token.transfer", {"to": ledger.members[1].address, "amount": 1})
    assert second.nonce == first.nonce + 1
    ledger.chain.submit(second)
    block = ledger.chain.mine()
    assert [tx.hash for tx in block.transactions] == [first.hash, second.hash]
    assert ledger.account(key).nonce == 2


@pytest.mark.parametrize("overrides, field", [
    ({"gas_limit": 2000.0}, "gas_limit"),
    ({"gas_price": True}, "gas_price"),
    ({"nonce": 0.0}, "nonce"),
    ({"gas_limit": 2**63}, "gas_limit"),
    ({"timestamp": -1}, "timestamp"),
    ({"to": 5}, "to"),
    ({"sender": "AB" * 20}, "sender"),
])
def test_inexact_or_out_of_range_fields_are_refused_before_anything_is_stored(ledger, overrides, field):
    error = _rejected(ledger, _transfer(ledger, **overrides), RejectCode.MALFORMED_FIELD)
    assert error.detail.startswith(field)


def test_an_upper_case_signature_is_not_a_second_tx(ledger):
    tx = _transfer(ledger)
    shouted = tx.with_signature(tx.public_key, tx.signature.upper())
    assert shouted.hash != tx.hash
    assert "signature" in _rejected(ledger, shouted, RejectCode.MALFORMED_FIELD).detail


def test_a_payload_integer_past_sqlite_range_is_malformed(ledger):
    _rejected(ledger, _transfer(ledger, payload={"to": "ab" * 20, "amount": 2**63}), RejectCode.MALFORMED_PAYLOAD)


def test_only_the_authoritys_settlement_txs_are_gas_free(ledger):
    _rejected(ledger, _transfer(ledger, gas_price=0), RejectCode.GAS_PRICE_TOO_LOW)
    free_reward = ledger.chain.build_tx(ledger.authority, "token.reward", {"to": ledger.members[0].address,
                                                                            "amount": 1, "reason": "r"}, gas_price=0)
    ledger.chain.submit(free_reward)
    free_transfer = ledger.chain.build_tx(ledger.authority, "token.transfer",
                                          {"to": ledger.members[0].address, "amount": 1}, gas_price=0)
    _rejected(ledger, free_transfer, RejectCode.GAS_PRICE_TOO_LOW)


def test_batches_checked_in_a_worker_process_are_refused_for_what_submit_refuses(ledger):
    """`mine_batches` checks signatures and shapes in a worker process ahead of admission; each batch still
    rejects exactly what `submit` rejects, with the same code, and mines the rest as one block."""
    key, to = ledger.members[0], ledger.members[1].address
    first = ledger.chain.next_nonce(key.address)

    def transfer(nonce: int, **overrides):
        tx = ledger.chain.build_tx(key, "token.transfer", {"to": to, "amount": 5}, nonce=nonce)
        return _resign(ledger, key, replace(tx, **overrides)) if overrides else tx

    good = [transfer(first + i) for i in range(5)]
    refused = {"forged": (replace(good[1], payload={"to": to, "amount": 5000}), RejectCode.BAD_SIGNATURE),
               "float gas": (transfer(first + 1, gas_limit=2000.0), RejectCode.MALFORMED_FIELD),
               "bad payload": (transfer(first + 3, payload={"to": to, "amount": "5"}), RejectCode.MALFORMED_PAYLOAD),
               "unknown type": (transfer(first + 3, tx_type="token.mint"), RejectCode.UNKNOWN_TYPE),
               "future nonce": (transfer(first + 9), RejectCode.BAD_NONCE),
               "unpayable gas": (transfer(first + 4, gas_limit=10**9), RejectCode.INSUFFICIENT_FUNDS)}
    batches = [[good[0], refused["forged"][0], refused["float gas"][0], good[1], good[2]],
               [refused["bad payload"][0], refused["unknown type"][0], good[3], refused["future nonce"][0]],
               [refused["unpayable gas"][0], good[4]]]
    height = ledger.chain.height
    mined = list(ledger.chain.mine_batches(batches))
    assert [block.header.tx_count for block, _ in mined] == [3, 1, 1]
    assert [block.height for block, _ in mined] == [height + 1, height + 2, height + 3]
    assert [(rejection.tx.hash, rejection.code) for _, rejections in mined for rejection in rejections] == \
        [(tx.hash, code) for tx, code in refused.values()]
    assert [ledger.chain.transaction(tx.hash)[1].status for tx in good] == ["success"] * 5
    assert not ledger.chain.mempool.pending
