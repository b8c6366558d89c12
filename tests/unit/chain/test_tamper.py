"""Any single edited field in the SQLite file is reported by `verify_chain` with the block height."""
import json

import pytest

from engine.ledger.verify import verify_chain


@pytest.fixture
def mined(ledger):
    keys = ledger.members
    for i in range(3):
        ledger.send(keys[i], "token.stake", {"amount": 300})
    ledger.send(keys[0], "sop.open", {"incident_id": "inc"})
    ledger.send(keys[0], "token.transfer", {"to": keys[1].address, "amount": 77})
    ledger.send(keys[1], "token.transfer", {"to": keys[2].address, "amount": 12})
    assert verify_chain(ledger.chain.conn).ok
    return ledger


def _transfer_hash(ledger, amount):
    row = ledger.chain.conn.execute("SELECT hash, block_height FROM transactions WHERE payload LIKE ?",
                                    (f'%"amount":{amount}%',)).fetchone()
    return row[0], row[1]


def _findings(ledger):
    report = verify_chain(ledger.chain.conn)
    assert not report.ok
    return report.findings


def test_edited_amount_in_a_payload(mined):
    tx_hash, height = _transfer_hash(mined, 77)
    payload = json.dumps({"amount": 7700, "to": mined.members[1].address}, separators=(",", ":"), sort_keys=True)
    mined.chain.conn.execute("UPDATE transactions SET payload = ? WHERE hash = ?", (payload, tx_hash))
    findings = _findings(mined)
    assert findings[0].height == height
    assert any("signature" in f.what for f in findings) and any("hash" in f.what for f in findings)


def test_edited_tx_payload_field(mined):
    mined.chain.conn.execute("UPDATE transactions SET payload = '{\"incident_id\":\"other\"}'"
                             " WHERE tx_type = 'sop.open'")
    height = mined.chain.conn.execute("SELECT block_height FROM transactions WHERE tx_type='sop.open'").fetchone()[0]
    assert _findings(mined)[0].height == height


def test_edited_balance(mined):
    address = mined.members[2].address
    mined.chain.conn.execute("UPDATE accounts SET balance = balance + 1000 WHERE address = ?", (address,))
    findings = _findings(mined)
    assert any(address in f.what and "balance" in f.detail for f in findings)
    assert findings[-1].height == mined.chain.height


def test_edited_economy_snapshot(mined):
    address = mined.members[1].address
    mined.chain.conn.execute("UPDATE economy_snapshots SET stake = 0 WHERE height = 2 AND address = ?", (address,))
    assert [(f.height, f.what) for f in _findings(mined)] == [(2, "economy snapshot (re-executed)")]


def test_edited_block_timestamp(mined):
    mined.chain.conn.execute("UPDATE blocks SET timestamp = timestamp + 1 WHERE height = 3")
    findings = _findings(mined)
    assert [(f.height, f.what) for f in findings] == [(3, "block hash"), (3, "seal")]


def test_edited_receipt_status(mined):
    tx_hash, height = _transfer_hash(mined, 12)
    mined.chain.conn.execute("UPDATE receipts SET status = 'reverted' WHERE tx_hash = ?", (tx_hash,))
    findings = _findings(mined)
    assert findings[0].height == height and "status" in findings[0].what


def test_edited_contract_storage(mined):
    mined.chain.conn.execute("UPDATE contract_storage SET value = replace(value, 'Init', 'Solution')"
                             " WHERE contract = 'sop'")
    assert any("contract storage sop" in f.what for f in _findings(mined))


def test_deleted_transaction(mined):
    tx_hash, height = _transfer_hash(mined, 12)
    mined.chain.conn.execute("DELETE FROM receipts WHERE tx_hash = ?", (tx_hash,))
    mined.chain.conn.execute("DELETE FROM transactions WHERE hash = ?", (tx_hash,))
    findings = _findings(mined)
    assert findings[0].height == height and findings[0].what == "tx_count"
