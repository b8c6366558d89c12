"""`rca-tui demo --headless --json` on the bundled real Nezha case: a fresh clone needs nothing else."""
import json
import subprocess
import sys
from pathlib import Path


def test_demo_names_the_root_cause_with_numbers_and_leaves_a_verified_chain(tmp_path):
    db = tmp_path / "demo.db"
    out = subprocess.run([sys.executable, "-m", "rca_tui", "demo", "--headless", "--json", "--db", str(db)],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    assert result["status"] == "finished"
    assert result["ranker"] == "stacked ranker nezha-stacker.json over the heuristic signals and TAMO T2 " \
                               "(tamo-nezha.pt)"  # the demo is a Train-Ticket case: TAMO and the stacker are on
    warnings = " ".join(result["warnings"])  # both were fitted on the demo case: in-sample, and said so
    assert "TAMO checkpoint tamo-nezha.pt was trained on this case" in warnings
    assert "stacked ranker nezha-stacker.json was trained on this case" in warnings
    assert result["root_cause"] == result["label"]["root_cause"]
    assert any(ch.isdigit() for ch in result["reason"])
    assert result["propagation_path"][-1] == result["root_cause"]
    assert result["consensus"]["block"] > 0 and len(result["consensus"]["tx"]) == 64
    assert result["repair_steps"] and all({"step_id", "action", "description"} <= set(s)
                                          for s in result["repair_steps"])
    verify = subprocess.run([sys.executable, "-m", "rca_tui", "chain", "verify", "--json", "--db", str(db)],
                            capture_output=True, text=True)
    assert verify.returncode == 0 and json.loads(verify.stdout)["ok"]
    replay = json.loads(rca(db, "replay", result["run_id"], "--step", "5", "--headless", "--json"))
    assert replay["cursor"] == 5 and replay["total"] > 5
    assert [line.split()[0] for line in replay["log"]] == ["#1", "#2", "#3", "#4", "#5"]
    assert replay["sop"]["state"] is None  # five events in, the incident is not yet opened on chain
    assert replay["block_height"] < result["consensus"]["block"]


def test_sop_status_follows_the_demo_run_through_every_state(tmp_path):
    db = tmp_path / "demo.db"
    result = json.loads(rca(db, "demo", "--headless", "--json"))
    status = json.loads(rca(db, "sop", "status", "--run", result["run_id"], "--json"))
    assert status["run_id"] == result["run_id"] and status["state"] == "Solution"
    assert [step["to"] for step in status["history"]] == ["Data_Collected", "Root_Cause_Proposed", "Consensus",
                                                          "Solution"]
    heights = [step["height"] for step in status["history"]]
    assert heights == sorted(heights) and heights[2] == result["consensus"]["block"]
    latest = json.loads(rca(db, "sop", "status", "--json"))  # no --run: the latest run
    assert latest["incident_id"] == status["incident_id"]


def rca(db: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "rca_tui", *args, "--db", str(db)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout
