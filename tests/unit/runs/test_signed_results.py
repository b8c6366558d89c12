"""Every run's end is signed by the DAO authority (`incident.resolve`): the result's digest, its root cause and the
truth it is scored against. The truth cannot be changed by a later resolution, slashes act only on runs resolved
as wrong, and a run that died mid-vote has its open proposal abandoned so the stake it locked is free again."""
import pytest

from engine.agents import council
from engine.agents.council import Ballot
from engine.agents.dao import DaoExecutor
from engine.clock import FixedClock
from engine.contracts import governance, sop
from engine.contracts.token import locked_stake
from engine.ledger.records import RESOLVE_TX
from engine.runs.session import RunResultUntrusted, Session


def _session(tmp_path):
    return Session(tmp_path / "rca.db", clock=FixedClock())


def test_a_finished_run_is_signed_with_its_root_cause_and_truth(tmp_path):
    session = _session(tmp_path)
    run_id = session.create_run("case", None, "scripted", 0)
    session.finish_run(run_id, "finished", {"root_cause": "cart", "label": {"root_cause": "redis"}})
    signed = session.signed_result(run_id)
    assert (signed["status"], signed["root_cause"], signed["truth"]) == ("finished", "cart", "redis")
    assert session.chain.transaction(signed["tx"])[0].sender == session.chain.config.authority
    assert session.verify().ok


def test_a_later_resolution_cannot_change_the_truth(tmp_path):
    session = _session(tmp_path)
    run_id = session.create_run("case", None, "scripted", 0)
    session.finish_run(run_id, "finished", {"root_cause": "cart", "label": {"root_cause": "redis"}})
    session.finish_run(run_id, "finished", {"root_cause": "cart", "label": {"root_cause": "redis"}, "extra": 1})
    with pytest.raises(RunResultUntrusted, match="cannot change it to 'cart'"):
        session.finish_run(run_id, "finished", {"root_cause": "cart", "label": {"root_cause": "cart"}})
    assert session.run(run_id)["result"]["label"]["root_cause"] == "redis"
    assert session.verify().ok


def test_a_slash_for_a_run_needs_the_run_resolved_as_wrong(tmp_path):
    session = _session(tmp_path)
    right = session.create_run("case", None, "scripted", 0)
    session.finish_run(right, "finished", {"root_cause": "redis", "label": {"root_cause": "redis"}})
    dao = DaoExecutor(session.chain, session.wallets, session.events, right)
    council.top_up_stakes(dao)
    refused = council.slash(dao, "fault_mapper", 10, 0, "no", run_id=right)
    assert refused.receipt.status == "reverted" and "was resolved right" in refused.receipt.revert_reason
    wrong = session.create_run("case", None, "scripted", 1)
    session.finish_run(wrong, "finished", {"root_cause": "cart", "label": {"root_cause": "redis"}})
    assert council.slash(dao, "fault_mapper", 10, 0, "yes", run_id=wrong).receipt.ok
    session.commit_events()
    assert session.verify().ok


def test_a_run_that_ends_mid_vote_frees_the_stake_its_proposal_locked(tmp_path):
    session = _session(tmp_path)
    run_id = session.create_run("case", None, "scripted", 0)
    incident = sop.incident_key("case", run_id)
    dao = DaoExecutor(session.chain, session.wallets, session.events, run_id)
    council.top_up_stakes(dao)
    council.open_incident(dao, "alert_receiver", incident, {})
    council.collect(dao, "data_detective", incident, {}, "evidence")
    record = council.propose(dao, "probability_oracle", incident, "cart", "why", [])
    council.vote(dao, record, Ballot("data_detective", "for", "agree"))
    locked = {agent: locked_stake(session.chain.state, session.wallets.address(agent))
              for agent in ("probability_oracle", "data_detective")}
    assert locked == {"probability_oracle": council.PROPOSAL_STAKE, "data_detective": council.VOTE_STAKE}

    session.finish_run(run_id, "interrupted", {"error": "the process died"})
    assert governance.proposal(session.chain.state, record.proposal_id)["status"] == "abandoned"
    assert all(locked_stake(session.chain.state, session.wallets.address(agent)) == 0 for agent in locked)
    assert session.run_sop_status(run_id)["state"] == sop.SOPState.DATA_COLLECTED.value
    assert session.chain.store.tx_hashes_naming_run(RESOLVE_TX, run_id)
    assert session.verify().ok


def test_runs_finished_before_results_were_signed_are_signed_once_on_open(tmp_path):
    """A v3 database has finished runs without `incident.resolve` and events no block committed; the v4 migration
    marks them, and the next session signs each run as stored and commits the events (trust on first use)."""
    from engine.store.schema import RESULTS_PENDING

    session = _session(tmp_path)
    run_id = session.create_run("legacy", None, "scripted", 0)
    session.events.append(run_id, "run_started", {"incident": "legacy"})
    session.store.finish_run(run_id, "finished", 0, {"root_cause": "cart", "label": {"root_cause": "redis"}})
    session.conn.execute("INSERT INTO meta (key, value) VALUES (?, '1')", (RESULTS_PENDING,))
    assert [f.what for f in session.verify().findings] == [f"run {run_id} event 1 (run_started)", f"run {run_id}"]
    session.close()

    reopened = _session(tmp_path)
    assert reopened.signed_result(run_id)["truth"] == "redis"
    assert reopened.verify().ok
    assert not reopened.store.results_pending()


@pytest.mark.parametrize("edited", ["{not json", '["a list"]', '{"label": "a string"}'])
def test_a_result_edited_into_something_else_is_refused_by_name_not_with_a_parse_error(tmp_path, edited):
    session = _session(tmp_path)
    run_id = session.create_run("case", None, "scripted", 0)
    session.finish_run(run_id, "finished", {"root_cause": "cart", "label": {"root_cause": "redis"}})
    session.conn.execute("UPDATE runs SET result = ? WHERE run_id = ?", (edited, run_id))
    with pytest.raises(RunResultUntrusted, match="root cause None stored, 'cart' signed; label root cause None "
                                                 "stored, 'redis' signed; nothing acts on an edited result"):
        session.signed_result(run_id)
    assert [f.what for f in session.verify().findings] == [f"run {run_id} result"]
