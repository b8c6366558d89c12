"""An attacker with write access to the SQLite file but none of the keys rebuilds history: re-executes the signed
txs from an edited genesis, re-derives every receipt, root and hash, and seals with a key of their own; or cuts
the newest blocks off and rewrites the live state to match. Each rebuild is caught with the block height and
what differs. Two processes writing for one key never mine a (sender, nonce) twice."""
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.chain.crypto import PrivateKey
from engine.chain.types import BlockHeader, canonical_json
from engine.contracts.registry import method_for
from engine.ledger.anchor import Anchor
from engine.ledger.economy import economy_rows
from engine.ledger.genesis import GENESIS_PREV_HASH, apply_genesis, config_of, genesis_digest
from engine.ledger.records import seal_digest
from engine.ledger.rerun import rerun_blocks
from engine.ledger.verify import Expected, verify_chain
from engine.ledger.vm import NotExecutable, apply_tx
from engine.chain import merkle
from engine.chain.types import Block
from engine.runs.session import verify_database
from engine.store.chain import ChainStore
from engine.store.db import open_db, transaction
from engine.store.errors import DatabaseUnusable
from engine.store.state import SqliteState

REPO = Path(__file__).resolve().parents[2]
LEDGER_TABLES = ("economy_snapshots", "seals", "receipts", "transactions", "blocks", "accounts", "contract_storage")


@pytest.fixture
def history(ledger):
    """Stakes, an incident, transfers and gas-free rewards across 9 blocks; verified, with its anchor."""
    members = ledger.members
    for key in members:
        ledger.send(key, "token.stake", {"amount": 300})
    ledger.send(members[0], "sop.open", {"incident_id": "inc"})
    ledger.send(ledger.authority, "token.reward", {"to": members[1].address, "amount": 500, "reason": "right"},
                gas_price=0)
    ledger.send(members[0], "token.transfer", {"to": members[1].address, "amount": 77})
    ledger.send(members[0], "token.transfer", {"to": members[2].address, "amount": 11})
    ledger.send(ledger.authority, "token.reward", {"to": members[2].address, "amount": 400, "reason": "right"},
                gas_price=0)
    assert _verify(ledger).ok
    return ledger


def _verify(ledger, **expected):
    return verify_chain(ledger.chain.conn, Expected(pin=ledger.chain.anchor.pin(), **expected))


def _forge(ledger, keep=lambda stored: True, edit_genesis=lambda g: g, shift_ms=0):
    """Rewrite the whole chain as an attacker would: same signed txs (minus those `keep` refuses), from an edited
    genesis, every receipt, root and hash re-derived, every block sealed with the attacker's own key."""
    conn, store = ledger.chain.conn, ledger.chain.store
    genesis, blocks, names = store.genesis(), list(store.stored_blocks()), store.names()
    attacker = PrivateKey.from_seed("attacker")
    forged = edit_genesis({**genesis, "sealer": attacker.public_key})
    with transaction(conn):
        for table in LEDGER_TABLES:
            conn.execute(f"DELETE FROM {table}")
        state = SqliteState(conn)
        store.save_genesis(forged, names)
        apply_genesis(state, forged)
        header = BlockHeader(forged["chain_id"], 0, GENESIS_PREV_HASH, genesis_digest(forged), state.state_root(),
                             forged["timestamp"] + shift_ms, 0)
        _write(store, state, attacker, Block(header), [], names)
        for old in blocks[1:]:
            txs = [s.tx for s in old.txs if keep(s)]
            receipts = [_apply_anyway(state, config_of(forged), tx, old.header.height) for tx in txs]
            header = BlockHeader(forged["chain_id"], old.header.height, store.tip_hash(),
                                 merkle.merkle_root([tx.hash for tx in txs]), state.state_root(),
                                 old.header.timestamp + shift_ms, len(txs))
            _write(store, state, attacker, Block(header, tuple(txs)), receipts, names)


def _apply_anyway(state, config, tx, height):
    """The attacker's VM executes a tx even out of nonce turn (so a dropped tx leaves a gap, as in the issue)."""
    try:
        return apply_tx(state, config, tx, height, 0)
    except NotExecutable:
        account = state.get_account(tx.sender)
        state.conn.execute("UPDATE accounts SET nonce = ? WHERE address = ?", (tx.nonce, account.address))
        return apply_tx(state, config, tx, height, 0)


def _write(store, state, attacker, block, receipts, names):
    store.insert_block(block.header)
    store.insert_transactions(block, receipts)
    store.save_snapshot(block.height, economy_rows(state, sorted(names)))
    store.save_seal(block.height, attacker.sign_digest(seal_digest(block.hash, merkle.EMPTY_ROOT)), merkle.EMPTY_ROOT)


def _findings(report):
    assert not report.ok
    return [(f.height, f.what) for f in report.findings]


def test_a_million_minted_at_genesis_and_re_derived_is_caught_at_block_0(history):
    def mint(genesis):
        alloc = dict(genesis["alloc"])
        alloc[history.outsider.address] += 1_000_000
        return {**genesis, "alloc": alloc}

    _forge(history, edit_genesis=mint)
    findings = _findings(_verify(history))
    assert (0, "genesis (pinned beside the keys)") in findings
    assert (0, "genesis record (pinned beside the keys)") in findings


def test_a_rebuild_keeping_the_genesis_record_fails_every_seal(history):
    genesis = history.chain.store.genesis()
    _forge(history, keep=lambda s: s.tx.tx_type != "token.reward", edit_genesis=lambda g: {**g, **{
        "sealer": genesis["sealer"]}})
    findings = _findings(_verify(history))
    assert findings[0] == (0, "seal")
    assert {h for h, what in findings if what == "seal"} == set(range(history.chain.height + 1))


@pytest.mark.parametrize("probe", ["rewards censored", "mid-sequence tx dropped", "moved back a day"])
def test_a_re_derived_history_is_refused_by_the_pinned_genesis(history, probe):
    dropped = history.chain.store.stored_blocks()
    transfer_77 = next(s.stored_hash for b in dropped for s in b.txs if s.tx.payload.get("amount") == 77)
    keep = {"rewards censored": lambda s: s.tx.tx_type != "token.reward",
            "mid-sequence tx dropped": lambda s: s.stored_hash != transfer_77}.get(probe, lambda s: True)
    _forge(history, keep=keep, shift_ms=-86_400_000 if probe == "moved back a day" else 0)
    findings = _findings(_verify(history))
    assert (0, "genesis (pinned beside the keys)") in findings
    if probe == "mid-sequence tx dropped":
        gap = next(f for f in _verify(history).findings if "not executable" in f.what)
        assert "out of turn" in gap.detail and gap.height == history.chain.height - 1


def test_cutting_the_newest_blocks_is_caught_below_the_pinned_head(history):
    conn, tip = history.chain.conn, history.chain.height
    with transaction(conn):
        for table, column in (("economy_snapshots", "height"), ("seals", "height")):
            conn.execute(f"DELETE FROM {table} WHERE {column} > ?", (tip - 3,))
        conn.execute("DELETE FROM receipts WHERE tx_hash IN (SELECT hash FROM transactions WHERE block_height > ?)",
                     (tip - 3,))
        conn.execute("DELETE FROM transactions WHERE block_height > ?", (tip - 3,))
        conn.execute("DELETE FROM blocks WHERE height > ?", (tip - 3,))
        _rewrite_live_state(conn)
    assert _findings(_verify(history)) == [(tip, "head (pinned beside the keys)")]
    assert f"ends at block {tip - 3}" in _verify(history).findings[0].detail


def _rewrite_live_state(conn):
    shadow = None
    for _, shadow in rerun_blocks(ChainStore(conn)):
        pass
    conn.execute("DELETE FROM accounts")
    conn.execute("DELETE FROM contract_storage")
    for account in shadow.accounts():
        SqliteState(conn).put_account(account)
    for (contract, key), value in shadow.storage_rows().items():
        conn.execute("INSERT INTO contract_storage VALUES (?, ?, ?)", (contract, key, value))


def test_expected_genesis_and_head_given_by_the_user(history):
    genesis, head = history.chain.store.block_hash(0), history.chain.tip_hash
    assert _verify(history, genesis=genesis, head=head).ok
    assert _findings(_verify(history, genesis="ab" * 32, head="cd" * 32)) == [
        (0, "genesis (--expect-genesis)"), (history.chain.height, "head (--expect-head)")]


def test_an_edited_revert_reason_is_caught(history):
    history.send(history.members[0], "token.unstake", {"amount": 10**9})  # reverts: more than the stake
    history.chain.conn.execute("UPDATE receipts SET revert_reason = 'nothing to see' WHERE status = 'reverted'")
    assert _findings(_verify(history))[0][1].endswith("receipt revert_reason")


def test_a_float_written_into_a_stored_tx_is_named(history):
    history.chain.conn.execute("UPDATE transactions SET gas_limit = 2000.5 WHERE tx_type = 'sop.open'")
    report = _verify(history)
    height = history.chain.conn.execute("SELECT block_height FROM transactions WHERE tx_type = 'sop.open'").fetchone()[0]
    refused = next(f for f in report.findings if "not executable" in f.what)
    assert refused.height == height and "gas_limit is 2000.5 (float)" in refused.detail


def rca(*args):
    return subprocess.run([sys.executable, "-m", "rca_tui", *args], capture_output=True, text=True, cwd=REPO)


def test_verify_never_creates_a_database(tmp_path):
    typo = tmp_path / "typo" / "path.db"
    done = rca("chain", "verify", "--db", str(typo))
    assert done.returncode == 1 and "no database at" in done.stderr and "Traceback" not in done.stderr
    assert not typo.parent.exists()


def test_a_copy_without_its_keys_is_refused_not_given_new_ones(history, tmp_path):
    copy = tmp_path / "copy.db"
    with sqlite3.connect(copy) as target:
        history.chain.conn.backup(target)
    done = rca("chain", "verify", "--db", str(copy))
    assert done.returncode == 1 and "no trust anchor" in done.stderr
    with pytest.raises(DatabaseUnusable, match="sealer key"):
        from engine.runs.session import Session
        Session(copy)
    assert not Path(str(copy) + ".keys").exists()


def test_a_deleted_ledger_is_reported_not_recreated(history):
    conn = history.chain.conn
    with transaction(conn):
        for table in (*LEDGER_TABLES, "meta", "names"):
            conn.execute(f"DELETE FROM {table}")
    report = verify_database(history.chain.anchor.directory.parent / "ledger.db")
    assert [(f.height, f.what) for f in report.findings] == [(None, "genesis")]
    assert conn.execute("SELECT COUNT(*) FROM blocks").fetchone()[0] == 0


WRITER = """
import sys
from engine.runs.session import Session
session = Session(sys.argv[1])
key = session.wallets.keys["alert_receiver"]
for _ in range(15):
    session.chain.sign_and_mine(key, "token.transfer", {"to": "ab" * 20, "amount": 1})
"""


def test_two_processes_writing_for_one_key_queue_and_never_share_a_nonce(tmp_path):
    from engine.runs.session import Session

    db = tmp_path / "race.db"
    Session(db).close()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(db)], env=env, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    errors = [w.communicate()[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    conn = sqlite3.connect(db)
    nonces = [n for (n,) in conn.execute("SELECT nonce FROM transactions WHERE tx_type = 'token.transfer'")]
    assert sorted(nonces) == list(range(30))
    assert verify_database(db).ok


def test_the_store_refuses_a_second_tx_with_the_same_sender_and_nonce(history):
    conn = history.chain.conn
    row = dict(conn.execute("SELECT * FROM transactions WHERE tx_type = 'sop.open'").fetchone())
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute("INSERT INTO transactions VALUES (:hash_, :block_height, 9, :chain_id, :sender, :to_addr,"
                     " :nonce, :tx_type, :payload, :gas_price, :gas_limit, :timestamp, :public_key, :signature)",
                     {**row, "hash_": "f" * 64})
