"""Scale-out of `eval injection`: the fault-injected runs (batches on fresh ledgers) and their features in 2 local
processes and on a distributed.LocalCluster keep the serial runs and print the serial figures."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rca_tui.cli.main import app
from tests.tiny_llm import build_tiny_llama

CORPUS = ["alert_receiver: priority P1", "data_detective: focus ts-route-service latency", "vote for the root cause"]
RUN_DEPENDENT = ("generation_seconds", "db")  # wall clock and the temporary folder


def _report(db, model: str, *scale_out: str) -> dict:
    result = CliRunner().invoke(app, ["eval", "injection", "--runs", "3", "--folds", "2", "--seeds", "0",
                                      "--model", model, "--db", str(db), "--json", *scale_out])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    report.pop("timing")
    for key in RUN_DEPENDENT:
        report["generation"].pop(key)
    return report


def test_injection_runs_scaled_out_keep_the_serial_runs_and_figures(tmp_path, isolated_cache):
    distributed = pytest.importorskip("distributed")
    model = str(build_tiny_llama(tmp_path / "tiny", CORPUS))
    serial = _report(tmp_path / "serial", model, "--fresh-runs")
    assert len(serial["generation"]["trajectory_ids"]) == 3
    assert serial["generation"]["runs"] > 3 and serial.pop("scale_out") == {"workers": 1, "dask_scheduler": None}
    workers = _report(tmp_path / "workers", model, "--fresh-runs", "--workers", "2")
    assert workers.pop("scale_out")["workers"] == 2
    assert workers == serial
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask = _report(tmp_path / "dask", model, "--fresh-runs", "--dask-scheduler", cluster.scheduler_address)
    assert dask.pop("scale_out")["dask_scheduler"] == cluster.scheduler_address
    assert dask == serial


def test_a_study_run_again_is_rescored_on_its_cached_runs(tmp_path, isolated_cache):
    model = str(build_tiny_llama(tmp_path / "tiny", CORPUS))
    first = _report(tmp_path / "first", model)
    again = _report(tmp_path / "again", model)
    cache = again["generation"].pop("runs_cache")
    assert first["generation"].pop("runs_cache") == {**cache, "reused": False} and cache["reused"]
    assert again == first  # the same runs, every figure the same, without running the agents again
    fresh = _report(tmp_path / "fresh", model, "--fresh-runs")
    assert fresh["generation"].pop("runs_cache")["reused"] is False

