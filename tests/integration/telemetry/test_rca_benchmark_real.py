from __future__ import annotations

import pytest

from engine.evaluation.rca import evaluate_rca, statistical_ranking

from .conftest import NEZHA, need

pytestmark = pytest.mark.datasets


def test_benchmark_scores_a_few_train_ticket_cases():
    cases = ["tt-2023-01-29-04", "tt-2023-01-29-18", "tt-2023-01-29-24"]  # return, exception, cpu
    report = evaluate_rca(str(need(NEZHA)), statistical_ranking, case_ids=cases)
    overall = report["table"][0]
    assert overall["count"] == 3 and overall["failures"] == 0
    assert overall["AC@3"] == 1.0
    assert {row["group"] for row in report["table"]} >= {"system=TrainTicket fault=exception"}
