"""`rca-tui eval rca` on damaged datasets: a clear message and a non-zero exit, never a traceback; in a batch each
bad case is reported while the others still run, and the command fails only when nothing could be scored."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
DAY = Path("rca_data/2023-01-29")
FAULTS = DAY / "2023-01-29-fault_list.json"
POD = "ts-route-service-b6c59fb57-zv8dt_metric.csv"
NOT_FOUND = 3


@pytest.fixture()
def demo(tmp_path) -> Path:
    shutil.copytree(DEMO, tmp_path / "demo")
    return tmp_path / "demo"


def eval_rca(dataset: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rca_tui", "eval", "rca", "--dataset", str(dataset),
                           "--db", str(dataset.parent / "e.db"), *extra], capture_output=True, text=True,
                          env=os.environ.copy())


def test_a_missing_fault_list_exits_non_zero_naming_it(demo):
    (demo / FAULTS).unlink()
    done = eval_rca(demo, "--json")
    assert done.returncode == NOT_FOUND, done.stderr
    assert "2023-01-29-fault_list.json: missing; expected the fault list" in done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr


@pytest.mark.parametrize("text", ['{"10": [', '{"10": 5}', '{"10": [{"inject_pod": "x"}]}'])
def test_a_malformed_fault_list_is_a_message_not_a_traceback(demo, text):
    (demo / FAULTS).write_text(text)
    done = eval_rca(demo, "--json")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "fault_list.json" in done.stderr


def test_when_no_case_can_be_scored_the_command_fails_with_each_reason(demo):
    metric = demo / DAY / "metric" / POD
    lines = metric.read_text().splitlines()
    lines[6] = ",".join(lines[6].split(",")[:9])  # row 7 truncated
    metric.write_text("\n".join(lines) + "\n")
    done = eval_rca(demo, "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)  # the report is still printed
    [failure] = report["failures"]
    assert f"{POD}: row 7 has 9 cells; truncated? expected 22" in failure["error"]
    assert "none of the 1 case(s) could be scored" in done.stderr and "Traceback" not in done.stderr


def test_one_bad_case_is_reported_and_the_others_still_score(demo):
    faults = json.loads((demo / FAULTS).read_text())
    faults["11"] = [dict(faults["10"][0], inject_time="2023-01-29 11:40:00")]  # no telemetry at that time
    (demo / FAULTS).write_text(json.dumps(faults))
    done = eval_rca(demo, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [f["case_id"] for f in report["failures"]] == ["tt-2023-01-29-01"]
    assert "no metric rows between 2023-01-29 11:40" in report["failures"][0]["error"]
    assert "case tt-2023-01-29-01 failed" in done.stderr
    scored = {c["case_id"]: c["position"] for c in report["cases"]}
    assert scored["tt-2023-01-29-18"] is not None
