from __future__ import annotations

import json
import shutil

import pytest

from engine.telemetry.dataset import dataset_kind, list_cases, load_case

from .conftest import PETSHOP, need

pytestmark = pytest.mark.datasets


def test_lists_the_42_issues():
    root = need(PETSHOP)
    cases = list_cases(root)
    assert len(cases) == 42 and dataset_kind(root) == "petshop"
    assert "low_traffic/test/issue_11" in {c.case_id for c in cases}


def test_issue_loads_metrics_graph_alert_and_label():
    incident = load_case(need(PETSHOP), "low_traffic/test/issue_11")
    assert incident.alert.entity == "PetSite" and incident.alert.metric_family == "availability"
    assert incident.label.root_cause == "petlistadoptions_AWS::ECS::Fargate"
    series = incident.metrics["PetSite"]
    assert {"latency.Average", "availability.Average", "requests.Sum"} <= set(series.values)
    assert len(series.times) > 500  # noissue rows joined as the baseline
    assert incident.topology.has_edge("PetSite", "petlistadoptions_AWS::ECS::Fargate")
    assert "PetSearch_client" in incident.observed_only


def test_injection_metadata_is_never_needed(tmp_path):
    root = need(PETSHOP)
    copy = tmp_path / "petshop"
    scenario = copy / "dataset" / "low_traffic"
    shutil.copytree(root / "dataset" / "low_traffic" / "noissue", scenario / "noissue")
    shutil.copy(root / "dataset" / "low_traffic" / "graph.csv", scenario / "graph.csv")
    issue = scenario / "test" / "issue_11"
    shutil.copytree(root / "dataset" / "low_traffic" / "test" / "issue_11", issue)
    target = json.loads((issue / "target.json").read_text())
    target["metadata"] = "not even an object"
    (issue / "target.json").write_text(json.dumps(target))
    assert load_case(copy, "low_traffic/test/issue_11").label.root_cause == "petlistadoptions_AWS::ECS::Fargate"


def test_scenario_without_normal_data_says_so():
    incident = load_case(need(PETSHOP), "temporal_traffic1/test/issue_3")
    assert any("normal-operation metrics" in item for item in incident.missing)
