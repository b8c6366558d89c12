"""`rca-tui eval rca` uses the bundled TAMO checkpoint and stacked ranker by default on the systems they were
trained on, says so, and flags the cases they were fitted on as in-sample; `--tamo-model none` turns both off."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.config import DEFAULT_STACKER, DEMO_DIR, TAMO_CHECKPOINT
from rca_tui.cli.main import app

pytestmark = pytest.mark.skipif(not (TAMO_CHECKPOINT.is_file() and DEFAULT_STACKER.is_file()),
                                reason="no bundled TAMO checkpoint / stacked ranker")


def _eval(tmp_path: Path, *args: str) -> dict:
    result = CliRunner().invoke(app, ["eval", "rca", "--dataset", str(DEMO_DIR), "--db", str(tmp_path / "e.db"),
                                      "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_demo_case_is_ranked_with_tamo_and_flagged_in_sample(tmp_path):
    report = _eval(tmp_path)
    assert report["provenance"]["rankers"]["TrainTicket"].startswith("stacked ranker nezha-stacker.json")
    assert report["provenance"]["in_sample_cases"] == ["tt-2023-01-29-18"]
    assert report["table"][0]["in_sample"] == 1 and report["cases"][0]["in_sample"]


def test_no_tamo_means_the_statistical_ranking_and_nothing_in_sample(tmp_path):
    report = _eval(tmp_path, "--tamo-model", "none")
    assert report["provenance"] == {"rankers": {"TrainTicket": "statistical ranking (TAMO off)"},
                                    "in_sample_cases": []}
    assert report["table"][0]["in_sample"] == 0


def test_a_missing_checkpoint_is_named_before_anything_runs(tmp_path):
    result = CliRunner().invoke(app, ["eval", "rca", "--dataset", str(DEMO_DIR), "--tamo-model", "/no/such.pt"])
    assert result.exit_code == 3 and "--tamo-model /no/such.pt: no such file" in result.output
