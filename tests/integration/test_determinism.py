"""The same run on two fresh databases gives the same chain, byte for byte.

Wallet keys are generated at random for each database (`<db>.keys/`, never derived from public data), so the
second database is given a copy of the first one's keystore; everything else (run ids, txs, blocks, events)
must follow from the inputs, the fixed clock and the database's own state.
"""
import shutil

from engine.agents.workflow import Workflow
from engine.clock import FixedClock
from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.session import Session
from tests.unit.agents.conftest import make_incident


def run_once(db, keys_from=None) -> dict:
    if keys_from is not None:
        shutil.copytree(str(keys_from) + ".keys", str(db) + ".keys")
    session = Session(db, clock=FixedClock())
    try:
        result = Workflow(session, HeuristicReasoner()).run(make_incident())
        blocks = [session.block(height) for height in range(session.height + 1)]
        return {"run_id": result["run_id"], "root_cause": result["root_cause"],
                "blocks": [block.hash for block in blocks],
                "txs": [tx.hash for block in blocks for tx in block.transactions],
                "events": [event.to_dict() for event in session.run_events(result["run_id"])]}
    finally:
        session.close()


def test_two_fresh_databases_record_the_same_run_identically(tmp_path):
    first = run_once(tmp_path / "first.db")
    second = run_once(tmp_path / "second.db", keys_from=tmp_path / "first.db")
    assert first["run_id"].startswith("run-0001-") and first["root_cause"] == "redis"
    assert len(first["txs"]) > 10
    assert second == first
