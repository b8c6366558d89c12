"""A long batch whose agents can no longer pay gas goes on, from that case, on a fresh ledger beside the spent one;
any other failure still fails the case."""
from types import SimpleNamespace

import pytest

from engine.agents.dao import ChainActionFailed
from engine.agents.workflow import RunFailed
from engine.ledger.mempool import RejectCode, TxRejected
from engine.runs import batch


def _failure(code: RejectCode) -> RunFailed:
    try:
        try:
            try:
                raise TxRejected(SimpleNamespace(hash="ab" * 32), code, "balance 3 below 40")
            except TxRejected as rejected:
                raise ChainActionFailed(str(rejected)) from rejected
        except ChainActionFailed as failed:
            raise RunFailed("run stopped") from failed
    except RunFailed as run_failed:
        return run_failed


@pytest.fixture
def ledgers_used(monkeypatch):
    used, outcomes = [], []

    def fake_run(session, incident, *args, **kwargs):
        used.append(session)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return {"ranking": outcome}

    monkeypatch.setattr(batch, "run_incident", fake_run)
    monkeypatch.setattr(batch, "_session", lambda db: db)
    monkeypatch.setattr(batch, "_spent_ledgers", {})
    return used, outcomes


def test_agents_out_of_gas_money_move_the_batch_to_a_fresh_ledger_that_later_cases_keep(tmp_path, ledgers_used):
    used, outcomes = ledgers_used
    ranking = batch.AgentRanking(str(tmp_path / "rca.db"), "nezha")
    outcomes += [["a"], _failure(RejectCode.INSUFFICIENT_FUNDS), ["b"], ["c"]]
    assert [ranking(None)["ranking"] for _ in range(3)] == [["a"], ["b"], ["c"]]
    fresh = str(tmp_path / "rca-ledger2.db")
    assert used == [str(tmp_path / "rca.db"), str(tmp_path / "rca.db"), fresh, fresh]
    assert ranking.database() == fresh


def test_any_other_refusal_still_fails_the_case(tmp_path, ledgers_used):
    used, outcomes = ledgers_used
    ranking = batch.AgentRanking(str(tmp_path / "rca.db"), "nezha")
    outcomes += [_failure(RejectCode.BAD_NONCE)]
    with pytest.raises(RunFailed):
        ranking(None)
    assert ranking.database() == str(tmp_path / "rca.db")
