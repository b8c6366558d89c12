from __future__ import annotations

import pytest

from engine.telemetry.dataset import dataset_kind, list_cases, load_case
from engine.telemetry.ranking import rank_root_causes

from .conftest import MABC, need

pytestmark = pytest.mark.datasets


def test_sample_alert_loads_without_label_and_ranks_the_failing_endpoint():
    root = need(MABC)
    assert dataset_kind(root) == "mabc"
    [case] = list_cases(root)
    incident = load_case(root, case.case_id)
    assert incident.alert.entity == "train-buy" and incident.label is None
    assert incident.topology.has_edge("train-buy", "food-buy")
    top = rank_root_causes(incident)[0]
    assert top.entity == "food-buy"
    assert "average_duration 11,218" in top.reason and "downstream" in top.reason
