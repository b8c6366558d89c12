"""Verify checks signatures in worker processes ahead of re-execution; what it finds does not depend on where the
checks ran, and it still works where no process can be started."""
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from engine.ledger import rerun
from engine.ledger.signatures import signature_processes
from engine.ledger.verify import verify_chain
from engine.parallel import AheadMap


@pytest.fixture
def forged(ledger):
    """Six blocks of transfers, the fourth tx's signature replaced by another valid-looking one."""
    keys = ledger.members
    for i in range(6):
        ledger.send(keys[i % 3], "token.transfer", {"to": keys[(i + 1) % 3].address, "amount": 10 + i})
    conn = ledger.chain.conn
    tx_hash, signature = conn.execute("SELECT hash, signature FROM transactions WHERE block_height = 4").fetchone()
    conn.execute("UPDATE transactions SET signature = ? WHERE hash = ?",
                 (signature[:-1] + ("0" if signature[-1] != "0" else "1"), tx_hash))
    return ledger, tx_hash


def _findings(ledger):
    report = verify_chain(ledger.chain.conn)
    return report.signature_processes, [f.to_dict() for f in report.findings]


def test_a_forged_signature_is_found_at_its_block_whether_checked_here_or_in_worker_processes(forged, monkeypatch):
    ledger, tx_hash = forged
    here, here_findings = _findings(ledger)
    monkeypatch.setattr(rerun, "CHUNK", 2)  # six chunks: the checks go to worker processes
    there, there_findings = _findings(ledger)
    assert (here, there) == (0, signature_processes())
    assert there_findings == here_findings
    assert {"height": 4, "what": f"tx {tx_hash[:16]} signature",
            "detail": "signature does not verify over the stored fields"} in there_findings


def test_verify_checks_every_signature_itself_where_no_process_can_start(forged, monkeypatch):
    ledger, _ = forged
    expected = _findings(ledger)[1]
    monkeypatch.setattr(rerun, "CHUNK", 2)

    def no_fork(*args, **kwargs):
        raise OSError("fork refused")

    monkeypatch.setattr(ProcessPoolExecutor, "submit", no_fork)
    assert _findings(ledger) == (0, expected)


def test_ahead_map_keeps_order_and_keys_and_runs_one_item_here():
    single = AheadMap(len, workers=2)
    assert list(single.run([("a", [1, 2])])) == [("a", 2)] and single.processes == 0
    several = AheadMap(len, workers=2, ahead=1)
    pairs = [(i, list(range(i))) for i in range(9)]
    assert list(several.run(pairs)) == [(i, i) for i in range(9)] and several.processes == 2


TEST_PROCESS = os.getpid()


def _slow_in_a_worker(item: int) -> tuple[int, int]:
    if os.getpid() != TEST_PROCESS:
        time.sleep(0.2)
    return item, os.getpid()


def test_ahead_map_caller_computes_items_no_worker_has_taken_instead_of_waiting():
    results = list(AheadMap(_slow_in_a_worker, workers=1).run((i, i) for i in range(8)))
    assert [(key, item) for key, (item, _) in results] == [(i, i) for i in range(8)]
    assert {pid == TEST_PROCESS for _, (_, pid) in results} == {True, False}


CALLER = """
import time
from engine.parallel import AheadMap

def slow(item):
    time.sleep(120)
    return item

list(AheadMap(slow, workers=1).run([(i, i) for i in range(3)]))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads processes from /proc")
def test_ahead_map_workers_exit_when_their_caller_is_killed_minus_9():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    caller = subprocess.Popen([sys.executable, "-c", CALLER], cwd=repo)
    try:
        workers = _wait_for(lambda: _children(caller.pid), "the caller never started a worker")
    finally:
        caller.kill()
        caller.wait()
    _wait_for(lambda: not any(_alive(worker) for worker in workers), "a worker outlived its killed caller")


def _stat(pid: str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, parent pid, ...); None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(parent: int) -> list[str]:
    return [pid for pid in os.listdir("/proc") if pid.isdigit() and (_stat(pid) or [None, None])[1] == str(parent)]


def _alive(pid: str) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def _wait_for(condition, failure: str, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(failure)
