"""`rca-tui synth` from the command line: bad input is named, with a non-zero exit and no traceback; a good
run writes a dataset the loaders and `eval rca` read."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rca_tui.cli.main import app

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
PETSHOP = Path(os.environ.get("RCA_TUI_DATASETS", Path(__file__).resolve().parents[2].parent / "shared" / "datasets")) \
    / "rca" / "petshop"


def _synth(*args: str):
    return CliRunner().invoke(app, ["synth", *args])


@pytest.mark.parametrize("args, named", [
    (["--from", "/no/such/folder"], "/no/such/folder: no such folder"),
    (["--from", str(DEMO), "--faults", "disk_fill"], "unknown fault type 'disk_fill'"),
    (["--from", str(DEMO), "--services", "ts-nope-service"], "ts-nope-service"),
    (["--from", str(DEMO), "--system", "XX"], "unknown system 'XX'"),
    (["--from", str(DEMO), "--per-service", "0"], "--per-service must be at least 1"),
])
def test_bad_input_is_named_without_a_traceback(tmp_path, args, named):
    result = _synth(*args, "--out", str(tmp_path / "out"))
    assert result.exit_code != 0
    assert named in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_an_existing_output_folder_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = _synth("--from", str(DEMO), "--out", str(tmp_path / "out"))
    assert result.exit_code != 0 and "not empty" in result.output
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_petshop_cases_load_with_their_label_and_the_fault_in_the_metrics(tmp_path):
    if not PETSHOP.is_dir():
        pytest.skip(f"dataset folder {PETSHOP} is absent")
    from engine.telemetry.dataset import list_cases, load_case

    result = _synth("--from", str(PETSHOP), "--out", str(tmp_path / "ps"), "--services",
                    "PetSearch_AWS::ECS::Fargate", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    cases = list_cases(tmp_path / "ps")
    assert len(cases) == summary["cases"] == 6  # 3 types x 2 scenarios with a noissue period
    for ref in cases:
        incident = load_case(tmp_path / "ps", ref.case_id)
        assert incident.label.root_cause == "PetSearch_AWS::ECS::Fargate"
        series = incident.metrics["PetSearch_AWS::ECS::Fargate"]
        metric = "latency.Average" if incident.label.fault_type == "network_delay" else "availability.Average"
        normal = series.between(incident.baseline.start, incident.baseline.end)[metric]
        faulty = series.between(incident.alert.time, incident.window.end)[metric]
        worse = faulty > max(normal) if metric.startswith("latency") else faulty < min(normal)
        assert worse.all(), (ref.case_id, metric)


NEZHA = PETSHOP.parent / "nezha"


def test_online_boutique_delay_shows_on_the_edge_latency_into_the_service(tmp_path):
    if not NEZHA.is_dir():
        pytest.skip(f"dataset folder {NEZHA} is absent")
    from engine.telemetry.dataset import list_cases, load_case

    result = _synth("--from", str(NEZHA), "--system", "OB", "--out", str(tmp_path / "ob"), "--services",
                    "productcatalogservice", "--faults", "network_delay,cpu_consumed")
    assert result.exit_code == 0, result.output
    for ref in list_cases(tmp_path / "ob"):
        incident = load_case(tmp_path / "ob", ref.case_id)
        assert incident.label.root_cause == "productcatalogservice"
        edge = incident.edge_metrics[("frontend", "productcatalogservice")]
        normal = edge.between(incident.baseline.start, incident.baseline.end)["latency_p50(s)"]
        faulty = edge.between(incident.alert.time + 60, incident.window.end)["latency_p50(s)"]
        assert faulty.min() > max(normal), ref.case_id


def test_petshop_faults_its_component_cannot_show_are_skipped_and_named(tmp_path):
    if not PETSHOP.is_dir():
        pytest.skip(f"dataset folder {PETSHOP} is absent")
    idle, no_availability = "STS_AWS::STS", "lambda_step_priceGreaterThan55_AWS::Lambda"
    result = _synth("--from", str(PETSHOP), "--out", str(tmp_path / "ps"), "--services", f"{idle},{no_availability}",
                    "--json")
    assert result.exit_code == 0, result.output
    skipped = {(skip["service"], skip["fault_type"], skip["reason"].split(":")[0])
               for skip in json.loads(result.stdout)["skipped"]}
    assert {(idle, fault, "serves no request through any case window of the fault-free period")
            for fault in ("network_delay", "network_loss", "exception")} <= skipped
    assert {(no_availability, fault, "availability reads 0 throughout the normal period")
            for fault in ("network_loss", "exception")} <= skipped
    written = (tmp_path / "ps" / "cases.csv").read_text()
    assert idle not in written and f"{no_availability},latency" in written  # its delay still shows in its latency
