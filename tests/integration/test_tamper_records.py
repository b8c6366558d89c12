"""What the console shows is what the chain committed: an attacker with write access to the SQLite file edits run
events, a run's result or the account names, and `chain verify` names each edit with the block, the run, the
event seq and what differs. Each block's seal signs the events written up to it; each run's result is signed by
the authority's `incident.resolve`."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.reasoners.heuristic import HeuristicReasoner
from engine.runs.runner import run_incident
from engine.runs.session import Session
from tests.unit.agents.conftest import make_incident

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def recorded(tmp_path):
    """A finished heuristic run (thoughts, votes, rewards) that verifies; its session and run id."""
    session = Session(tmp_path / "rca.db")
    run_id = run_incident(session, make_incident(), HeuristicReasoner())["run_id"]
    assert session.verify().ok
    return session, run_id


def _findings(session):
    report = session.verify()
    assert not report.ok
    return report.findings


def _event(session, run_id, kind):
    """(seq, the height of the block that committed it) of the run's first event of `kind`."""
    return session.conn.execute("SELECT e.seq, c.height FROM events e JOIN event_commits c USING (run_id, seq)"
                                " WHERE e.run_id = ? AND e.kind = ? ORDER BY e.seq", (run_id, kind)).fetchone()


def test_a_rewritten_thought_is_named_with_its_block_run_and_seq(recorded):
    session, run_id = recorded
    seq, height = _event(session, run_id, "agent_thought")
    session.conn.execute("UPDATE events SET payload = json_set(payload, '$.thought', 'all is well')"
                         " WHERE run_id = ? AND seq = ?", (run_id, seq))
    [finding] = _findings(session)
    assert (finding.height, finding.what) == (height, f"run {run_id} event {seq} (agent_thought)")
    assert f"differs from the event block {height} committed" in finding.detail and "all is well" in finding.detail


def test_every_flipped_vote_is_named(recorded):
    session, run_id = recorded
    votes = session.conn.execute("SELECT seq FROM events WHERE run_id = ? AND kind = 'vote_cast'", (run_id,))
    flipped = {f"run {run_id} event {seq} (vote_cast)" for (seq,) in votes}
    session.conn.execute("UPDATE events SET payload = json_set(payload, '$.option', 'against')"
                         " WHERE kind = 'vote_cast'")
    findings = _findings(session)
    assert {f.what for f in findings} == flipped and len(flipped) >= 3
    assert all('"option":"against"' in f.detail for f in findings)


def test_deleted_reward_events_are_named_as_missing(recorded):
    session, run_id = recorded
    rewards = session.conn.execute("SELECT e.seq, c.height FROM events e JOIN event_commits c USING (run_id, seq)"
                                   " WHERE e.kind = 'reward'").fetchall()
    session.conn.execute("DELETE FROM events WHERE kind = 'reward'")
    findings = _findings(session)
    assert [(f.height, f.what) for f in findings] == [(h, f"run {run_id} event {seq}") for seq, h in rewards]
    assert all("missing from the events table" in f.detail for f in findings)


def test_an_inserted_penalty_event_is_caught_committed_or_not(recorded):
    session, run_id = recorded
    last = session.conn.execute("SELECT MAX(seq) FROM events WHERE run_id = ?", (run_id,)).fetchone()[0]
    session.conn.execute("INSERT INTO events (run_id, seq, kind, ts, block_height, payload) VALUES"
                         " (?, ?, 'penalty', 0, NULL, '{\"agent\":\"fault_mapper\",\"amount\":500}')",
                         (run_id, last + 1))
    [finding] = _findings(session)
    assert (finding.height, finding.what) == (None, f"run {run_id} event {last + 1} (penalty)")
    assert "no block committed it and its run is not in progress" in finding.detail

    from engine.ledger.records import event_hash  # the attacker also lists it as committed by the newest block

    row = session.conn.execute("SELECT run_id, seq, kind, ts, block_height, payload FROM events"
                               " WHERE run_id = ? AND seq = ?", (run_id, last + 1)).fetchone()
    session.conn.execute("INSERT INTO event_commits VALUES (?, ?, ?, ?)",
                         (run_id, last + 1, session.height, event_hash(tuple(row))))
    [finding] = _findings(session)
    assert (finding.height, finding.what) == (session.height, "events root")
    assert f"{run_id} " in finding.detail and "do not give the root its seal signs" in finding.detail


def test_an_edited_run_result_is_named_with_what_the_authority_signed(recorded):
    session, run_id = recorded
    result = session.run(run_id)["result"]
    truth = result["label"]["root_cause"]
    edited = {**result, "label": {**result["label"], "root_cause": "payment"}}
    session.conn.execute("UPDATE runs SET result = ? WHERE run_id = ?", (json.dumps(edited), run_id))
    [finding] = _findings(session)
    resolve_height = session.conn.execute("SELECT MAX(block_height) FROM transactions"
                                          " WHERE tx_type = 'incident.resolve'").fetchone()[0]
    assert (finding.height, finding.what) == (resolve_height, f"run {run_id} result")
    assert f"label root cause 'payment' stored, '{truth}' signed" in finding.detail


def test_a_finished_run_set_back_to_running_or_deleted_is_caught(recorded):
    session, run_id = recorded
    session.conn.execute("UPDATE runs SET status = 'running' WHERE run_id = ?", (run_id,))
    assert [f.what for f in _findings(session)] == [f"run {run_id}"]
    session.conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
    findings = _findings(session)
    assert any(f.what == f"run {run_id}" and "row is missing from runs" in f.detail for f in findings)


def test_swapped_names_are_caught_against_genesis(recorded):
    session, _ = recorded
    names = session.names()
    first, second = sorted(a for a, n in names.items() if n in ("data_detective", "fault_mapper"))
    session.conn.execute("UPDATE names SET name = CASE address WHEN ? THEN ? ELSE ? END WHERE address IN (?, ?)",
                         (first, names[second], names[first], first, second))
    findings = _findings(session)
    assert [(f.height, f.what) for f in findings] == [(0, f"name of {first}"), (0, f"name of {second}")]
    assert f"stored {names[second]!r}, genesis says {names[first]!r}" in findings[0].detail


def test_the_cli_prints_each_edit_and_exits_non_zero(recorded):
    session, run_id = recorded
    seq, height = _event(session, run_id, "agent_thought")
    session.conn.execute("UPDATE events SET payload = json_set(payload, '$.thought', 'nothing') WHERE seq = ?",
                         (seq,))
    done = subprocess.run([sys.executable, "-m", "rca_tui", "chain", "verify", "--db", str(session.db_path)],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"block {height}: run {run_id} event {seq} (agent_thought): differs" in done.stdout
