"""The headless CLI over a real database: demo, views, verify, proof, bad input."""
import json
import subprocess
import sys

import pytest


def rca(db, *args, check=True):
    result = subprocess.run([sys.executable, "-m", "rca_tui", *args, "--db", str(db)], capture_output=True,
                            text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


def scripted_db(path):
    """A database holding one scripted incident run through the real ledger."""
    from engine.runs.scripted import run_scripted_incident
    from engine.runs.session import Session

    session = Session(path)
    run_scripted_incident(session)
    session.close()
    return path


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return scripted_db(tmp_path_factory.mktemp("cli") / "rca.db")


def test_help_lists_the_command_groups():
    out = subprocess.run([sys.executable, "-m", "rca_tui", "--help"], capture_output=True, text=True).stdout
    for group in ("demo", "chain", "agents", "sop", "runs", "events", "reset"):
        assert group in out


def test_demo_leaves_a_verified_chain_and_a_finished_sop(demo_db):
    report = json.loads(rca(demo_db, "chain", "verify", "--json").stdout)
    assert report["ok"] and report["transactions"] > 20
    status = json.loads(rca(demo_db, "sop", "status", "--json").stdout)
    assert status["state"] == "Solution"
    assert [h["to"] for h in status["history"]][-2:] == ["Consensus", "Solution"]


def test_economy_and_blocks_as_json(demo_db):
    rows = json.loads(rca(demo_db, "agents", "economy", "--json").stdout)
    assert len(rows) == 8 and {"balance", "stake", "reputation", "vote_weight"} <= set(rows[0])
    blocks = json.loads(rca(demo_db, "chain", "blocks", "--json", "--limit", "3").stdout)
    assert [b["height"] for b in blocks] == sorted((b["height"] for b in blocks), reverse=True)


def test_proof_of_a_tx_by_prefix_verifies(demo_db):
    block = json.loads(rca(demo_db, "chain", "block", "12", "--json").stdout)
    tx_hash = block["transactions"][0]["hash"]
    proof = json.loads(rca(demo_db, "chain", "proof", tx_hash[:12], "--json").stdout)
    assert proof["verified"] and proof["path"][-1] == proof["stored_root"]


def test_missing_block_and_tx_are_clear_errors(demo_db):
    missing = rca(demo_db, "chain", "block", "99999", check=False)
    assert missing.returncode == 3 and "no block at height 99999" in missing.stderr
    unknown = rca(demo_db, "chain", "tx", "ffffffffff", check=False)
    assert unknown.returncode == 3 and "no transaction" in unknown.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr


def test_verify_exits_non_zero_after_tampering(tmp_path):
    import sqlite3

    db = scripted_db(tmp_path / "t.db")
    conn = sqlite3.connect(db)
    conn.execute("UPDATE accounts SET balance = balance + 5 WHERE rowid = 1")
    conn.commit()
    conn.close()
    result = rca(db, "chain", "verify", check=False)
    assert result.returncode == 4 and "FAILED" in result.stdout  # the verdict is data: stdout


def test_db_given_before_the_command_is_the_one_read(demo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("RCA_TUI_DB", str(tmp_path / "elsewhere.db"))
    result = subprocess.run([sys.executable, "-m", "rca_tui", "--db", str(demo_db), "runs", "list", "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 1
    assert not (tmp_path / "elsewhere.db").exists()


def test_a_table_piped_to_a_file_keeps_every_cell_whole(demo_db):
    out = rca(demo_db, "agents", "economy").stdout
    assert "dependency_explorer" in out and "probability_oracle" in out and "…" not in out


def test_verify_against_hashes_the_user_kept(demo_db):
    genesis = json.loads(rca(demo_db, "chain", "block", "0", "--json").stdout)["hash"]
    head = json.loads(rca(demo_db, "chain", "blocks", "--json", "--limit", "1").stdout)[0]["hash"]
    assert rca(demo_db, "chain", "verify", "--expect-genesis", genesis, "--expect-head", head).returncode == 0
    wrong = rca(demo_db, "chain", "verify", "--expect-head", genesis, check=False)
    assert wrong.returncode == 4 and "head (--expect-head)" in wrong.stdout
