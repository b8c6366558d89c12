"""kill -9 a process while it mines, and while it runs incidents, N times each (default 20); after every kill the
database must be clean (SQLite integrity check, contiguous blocks, every block's txs and event commitments
present, no half-written block), `chain verify` must pass read-only against the pinned anchor, and every run the
dead process left `running` must be marked `interrupted` (with its event and its signed result) by the next
session. Too slow for the default test run (tests/integration/test_crash.py and test_killed_runs.py kill a few
times); run it as

    PYTHONPATH=$PWD python -m tests.bench.kill_cycles [--cycles 20] [--seed 0]

It prints one line per kill and exits 1 if any check failed.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MINER = """
import sys
from pathlib import Path
from engine.chain.crypto import PrivateKey
from engine.clock import FixedClock
from engine.ledger.anchor import Anchor
from engine.ledger.bench import BENCH_ACCOUNTS, build_funded_chain, signed_transfers
from engine.ledger.chain import Chain
from engine.store.db import open_db
path = Path(sys.argv[1])
if path.exists():
    chain = Chain(open_db(path), Anchor.beside(path), clock=FixedClock())
    keys = [PrivateKey.from_seed(f"bench-{i}") for i in range(BENCH_ACCOUNTS)]
else:
    chain, keys = build_funded_chain(path)
while True:  # two blocks a round, the second's checks in a worker process while the first is mined
    txs = signed_transfers(chain, keys, 256, seed=chain.height)
    for _ in chain.mine_batches([txs[:128], txs[128:]]):
        pass
"""
RUNNER = """
import sys
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.runner import run_incident
from engine.runs.session import Session
from tests.unit.agents.conftest import make_incident
session = Session(sys.argv[1])
while True:
    run_incident(session, make_incident(), HeuristicReasoner())
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        failures += _cycles("mining", MINER, Path(tmp) / "mining.db", args.cycles, rng, _check_mining)
        failures += _cycles("runs", RUNNER, Path(tmp) / "runs.db", args.cycles, rng, _check_runs)
    print(f"{2 * args.cycles} kills, {failures} failed")
    return 1 if failures else 0


def _cycles(name, code, db, cycles, rng, check) -> int:
    failures = 0
    for cycle in range(1, cycles + 1):
        before = _height(db)
        process = subprocess.Popen([sys.executable, "-c", code, str(db)], cwd=REPO, stdout=subprocess.DEVNULL,
                                   env={**os.environ, "PYTHONPATH": str(REPO)})
        _wait_for_height(db, before + rng.randint(2, 12), process)
        time.sleep(rng.uniform(0, 0.05))  # land anywhere inside the next block or step
        process.send_signal(signal.SIGKILL)
        process.wait()
        problems, note = check(db)
        problems = _clean(db) + problems
        failures += bool(problems)
        print(f"{name} kill {cycle:2d}/{cycles}: height {before} -> {_height(db)}{note}: "
              f"{'OK' if not problems else 'FAILED: ' + '; '.join(problems)}", flush=True)
    return failures


def _clean(db: Path) -> list[str]:
    """What a half-written block would leave behind, read with plain sqlite3."""
    conn = sqlite3.connect(db)
    try:
        problems = []
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            problems.append("SQLite integrity check failed")
        heights = [h for (h,) in conn.execute("SELECT height FROM blocks ORDER BY height")]
        if heights != list(range(len(heights))):
            problems.append("block heights are not contiguous")
        queries = {
            "txs outside any block": "SELECT COUNT(*) FROM transactions WHERE block_height NOT IN"
                                     " (SELECT height FROM blocks)",
            "blocks whose tx_count differs from their txs": "SELECT COUNT(*) FROM blocks b WHERE tx_count !="
                                                            " (SELECT COUNT(*) FROM transactions t"
                                                            " WHERE t.block_height = b.height)",
            "txs without a receipt": "SELECT COUNT(*) FROM transactions WHERE hash NOT IN"
                                     " (SELECT tx_hash FROM receipts)",
            "blocks without a seal": "SELECT COUNT(*) FROM blocks WHERE height NOT IN (SELECT height FROM seals)",
            "event commitments beyond the tip": "SELECT COUNT(*) FROM event_commits WHERE height >"
                                                " (SELECT MAX(height) FROM blocks)",
        }
        for what, query in queries.items():
            if conn.execute(query).fetchone()[0]:
                problems.append(what)
        return problems
    finally:
        conn.close()


def _check_mining(db: Path) -> tuple[list[str], str]:
    return _verified(db), ""


def _check_runs(db: Path) -> tuple[list[str], str]:
    from engine.runs.session import Session

    session = Session(db)  # what the next process to open the database does
    try:
        problems = []
        for run in session.runs():
            if run["status"] == "running":
                problems.append(f"{run['run_id']} still running")
            if run["status"] == "interrupted":
                kinds = [e.kind for e in session.run_events(run["run_id"])]
                if kinds[-1:] != ["run_interrupted"]:
                    problems.append(f"{run['run_id']} interrupted without its event")
                session.signed_result(run["run_id"])  # raises if the interrupted result is not signed
        statuses = [run["status"] for run in session.runs()]
    finally:
        session.close()
    note = f", runs {statuses.count('finished') + statuses.count('no_consensus')} done / " \
           f"{statuses.count('interrupted')} interrupted"
    return problems + _verified(db), note


def _verified(db: Path) -> list[str]:
    from engine.runs.session import verify_database

    report = verify_database(db)
    return [f"verify: block {f.height}: {f.what}: {f.detail}" for f in report.findings[:3]]


def _height(db: Path) -> int:
    if not db.exists():
        return -1
    try:
        conn = sqlite3.connect(db)
        try:
            return conn.execute("SELECT COALESCE(MAX(height), -1) FROM blocks").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


def _wait_for_height(db: Path, height: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the writer exited on its own (status {process.returncode})")
        if _height(db) >= height:
            return
        time.sleep(0.01)
    process.kill()
    raise SystemExit(f"the writer never reached block {height}")


if __name__ == "__main__":
    sys.exit(main())
