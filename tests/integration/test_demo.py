"""`rca-tui demo --headless --json` on the bundled real Nezha case: a fresh clone needs nothing else."""
import json
import subprocess
import sys


def test_demo_names_the_root_cause_with_numbers_and_leaves_a_verified_chain(tmp_path):
    db = tmp_path / "demo.db"
    out = subprocess.run([sys.executable, "-m", "rca_tui", "demo", "--headless", "--json", "--db", str(db)],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    assert result["status"] == "finished"
    assert result["root_cause"] == result["label"]["root_cause"]
    assert any(ch.isdigit() for ch in result["reason"])
    assert result["propagation_path"][-1] == result["root_cause"]
    assert result["consensus"]["block"] > 0 and len(result["consensus"]["tx"]) == 64
    assert result["repair_steps"] and all({"step_id", "action", "description"} <= set(s)
                                          for s in result["repair_steps"])
    verify = subprocess.run([sys.executable, "-m", "rca_tui", "chain", "verify", "--json", "--db", str(db)],
                            capture_output=True, text=True)
    assert verify.returncode == 0 and json.loads(verify.stdout)["ok"]
    replay = subprocess.run([sys.executable, "-m", "rca_tui", "replay", result["run_id"], "--step", "5",
                             "--headless", "--json", "--db", str(db)], capture_output=True, text=True, check=True)
    assert json.loads(replay.stdout)
