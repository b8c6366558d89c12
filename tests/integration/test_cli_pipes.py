"""Headless output that pipes: data on stdout (tables too, readable at a pipe's width), messages and progress on
stderr, one exit-code enum for every mistake."""
import json
import os
import subprocess
import sys

import pytest

from tests.integration.test_cli_ledger import scripted_db

USAGE, NOT_FOUND = 2, 3


def rca(db, *args, env=None):
    return subprocess.run([sys.executable, "-m", "rca_tui", *args, "--db", str(db)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return scripted_db(tmp_path_factory.mktemp("pipes") / "rca.db")


def test_a_proof_goes_to_stdout_so_it_pipes(db):
    tx = json.loads(rca(db, "chain", "block", "12", "--json").stdout)["transactions"][0]["hash"]
    done = rca(db, "chain", "proof", tx[:12])
    assert done.returncode == 0
    assert "verified" in done.stdout and tx in done.stdout and len(done.stdout) > 0


def test_the_root_cause_of_a_run_reaches_grep(tmp_path):
    done = rca(tmp_path / "d.db", "demo", "--headless", env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    root = [line for line in done.stdout.splitlines() if "root" in line]
    assert root and root[0].startswith("root cause: ts-route-service")
    assert "warning" not in done.stdout  # warnings stay on stderr
    assert max(len(line) for line in done.stdout.splitlines() if "│" in line or line[:1].isdigit()) <= 120


def test_tables_to_a_pipe_fold_long_cells_instead_of_1200_column_rows(db):
    done = rca(db, "events", env={"COLUMNS": "100"})
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) > 20
    assert max(map(len, lines)) <= 100
    assert "\x1b[" not in done.stdout  # no colour codes in a pipe
    runs = rca(db, "runs", "list", env={"COLUMNS": "100"}).stdout
    run_id = json.loads(rca(db, "runs", "list", "--json").stdout)[0]["run_id"]
    assert run_id in runs  # an id is never folded or cut


def test_runs_list_shows_truth_correctness_blame_and_a_readable_time(db):
    rows = json.loads(rca(db, "runs", "list", "--json").stdout)
    assert {"truth", "correct", "blamed", "started"} <= set(rows[0])
    text = rca(db, "runs", "list").stdout
    header = text.splitlines()[1]
    for column in ("truth", "correct", "blamed", "started"):
        assert column in header
    assert "started_at" not in header and str(rows[0]["started_at"]) not in text  # no epoch milliseconds


def test_a_bogus_reasoner_is_a_usage_error(db):
    done = rca(db, "run", "x", "--dataset", "data/demo", "--reasoner", "bogus")
    assert done.returncode == USAGE and "bogus" in done.stderr


def test_eval_rca_with_an_unknown_case_exits_non_zero_without_running(db):
    done = rca(db, "eval", "rca", "--dataset", "data/demo", "--case", "nope")
    assert done.returncode == NOT_FOUND and "nope" in done.stderr and done.stdout == ""


def test_eval_rca_shows_progress_on_stderr_even_with_json(tmp_path):
    done = rca(tmp_path / "e.db", "eval", "rca", "--dataset", "data/demo", "--json")
    assert done.returncode == 0, done.stderr
    assert "cases 1/1" in done.stderr
    json.loads(done.stdout)  # stdout stays pure JSON
