"""``rca-tui eval attribution-bench`` and ``rca-tui eval injection`` as a user calls them."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from rca_tui.cli.eval import app
from tests.unit.attribution.test_adapters import HAND_CRAFTED


def test_attribution_bench_reports_uncached_and_cached_latency(tiny_model_dir, tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.json").write_text(json.dumps({**HAND_CRAFTED, "question_ID": f"q{i}"}))
    result = CliRunner().invoke(app, ["attribution-bench", "--data", str(tmp_path), "--n", "2",
                                      "--model", str(tiny_model_dir), "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["trajectories"] == 2 and report["threads"] == 1
    assert set(report["uncached_seconds"]) == set(report["cached_milliseconds"]) == {"median", "p90", "max"}
    assert 0 < report["uncached_cpu_seconds"]["median"] and len(report["load_average"]) == 3


def test_injection_study_refuses_a_missing_nezha_root_before_running_anything(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short path: the error box is not wide enough to show a long one whole
    result = CliRunner().invoke(app, ["injection", "--nezha", "nowhere"])
    assert result.exit_code == 2 and "nowhere" in result.output


def test_injection_study_will_not_train_a_tracer_on_the_demo_alone(tmp_path):
    result = CliRunner().invoke(app, ["injection", "--save-tracer", str(tmp_path / "t.npz")])
    assert result.exit_code == 2 and "--nezha" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "t.npz").exists()


def test_injection_study_will_not_train_on_its_own_seed(tmp_path):
    result = CliRunner().invoke(app, ["injection", "--seed", "2", "--train-seeds", "1", "--train-seeds", "2"])
    assert result.exit_code == 2 and "--train-seeds 2" in result.output and "Traceback" not in result.output
