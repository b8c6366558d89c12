"""`rca-tui eval rca` uses the bundled TAMO checkpoint and stacked ranker by default on the systems they were
trained on, says so, and flags the cases they were fitted on as in-sample; `--tamo-model none` turns both off."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.config import DEFAULT_STACKER, DEMO_DIR, TAMO_CHECKPOINT
from engine.tamo.fault_kind import GROUPS
from rca_tui.cli.main import app

FAULT_TYPES = {kind for members in GROUPS.values() for kind in members}
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


def test_each_case_carries_the_fault_type_of_the_solution_engineers_plan_and_its_accuracy(tmp_path):
    report = _eval(tmp_path, "--tamo-model", "none")
    case = report["cases"][0]
    assert case["fault_type"] == "exception" and case["predicted_fault_type"] in FAULT_TYPES
    assert case["fault_type_correct"] == (case["predicted_fault_type"] == "exception")
    assert report["table"][0]["fault_type_accuracy"] == float(case["fault_type_correct"])
    assert report["fault_type"]["cases"] == 1 and report["fault_type"]["named"] == 1
    assert report["provenance"]["fault_type_in_sample_cases"] == ["tt-2023-01-29-18"]
    # TAMO off: the statistical ranking, nothing in-sample for the ranker
    assert report["provenance"]["rankers"] == {"TrainTicket": "statistical ranking (TAMO off)"}
    assert report["provenance"]["in_sample_cases"] == [] and report["table"][0]["in_sample"] == 0




def test_a_missing_checkpoint_is_named_before_anything_runs(tmp_path):
    result = CliRunner().invoke(app, ["eval", "rca", "--dataset", str(DEMO_DIR), "--tamo-model", "/no/such.pt"])
    assert result.exit_code == 3 and "--tamo-model /no/such.pt: no such file" in result.output
