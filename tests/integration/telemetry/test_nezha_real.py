"""The Nezha loader on the real development files (skipped when ../shared/datasets is absent)."""

from __future__ import annotations

import csv
import pytest

from engine.telemetry.dataset import dataset_kind, list_cases, load_case
from engine.telemetry.ranking import rank_root_causes

from .conftest import NEZHA, need

pytestmark = pytest.mark.datasets


def test_lists_every_fault_with_the_index_ids():
    root = need(NEZHA)
    cases = list_cases(root)
    with open(root / "cases.csv", newline="") as handle:
        expected = [row["case_id"] for row in csv.DictReader(handle)]
    assert [c.case_id for c in cases] == expected and len(cases) == 60
    assert dataset_kind(root) == "nezha"
    assert {c.system for c in cases} == {"TrainTicket", "OnlineBoutique"}


def test_train_ticket_case_has_every_modality_and_the_label():
    incident = load_case(need(NEZHA), "tt-2023-01-29-00")
    assert incident.missing == []
    assert incident.alert.entity == "ts-gateway-service"
    assert incident.label.root_cause == "ts-contacts-service" and incident.label.fault_type == "return"
    assert len(incident.entities) >= 40 and "ts-contacts-service" in incident.metrics
    assert incident.spans and incident.logs and incident.reference
    assert min(span.start for span in incident.spans) >= incident.window.start - 60
    assert incident.topology.has_edge("ts-preserve-service", "ts-contacts-service")


def test_online_boutique_reports_what_upstream_lost():
    incident = load_case(need(NEZHA), "ob-2022-08-23-00")
    assert any("log" in item for item in incident.missing)
    assert not incident.logs and incident.metrics["frontend"].values["CpuUsageRate(%)"].size > 100
    assert incident.topology.has_edge("frontend", "cartservice")
    assert ("frontend", "cartservice") in incident.edge_metrics


def test_case_without_any_trace_still_ranks():
    incident = load_case(need(NEZHA), "ob-2022-08-23-13")  # trace_files_present == 0
    assert not incident.spans and any("trace" in item for item in incident.missing)
    assert rank_root_causes(incident)[0].entity == "emailservice"
