from __future__ import annotations

import pytest

from engine.evaluation.metrics import ac_at_k, avg_at_k
from engine.evaluation.rca import CaseResult, evaluate_rca, format_table, summarize

from .conftest import DEMO

RANKINGS = [["a", "b", "c"], ["b", "a", "c"], ["c", "b", "a"], ["x", "y", "z"]]
TRUTHS = ["a", "a", "a", "a"]


def test_ac_at_k_counts_truth_within_top_k():
    assert ac_at_k(RANKINGS, TRUTHS, 1) == 0.25
    assert ac_at_k(RANKINGS, TRUTHS, 2) == 0.5
    assert ac_at_k(RANKINGS, TRUTHS, 3) == 0.75
    assert ac_at_k([], [], 1) == 0.0


def test_avg_at_k_is_the_mean_of_ac_1_to_k():
    assert avg_at_k(RANKINGS, TRUTHS, 3) == pytest.approx((0.25 + 0.5 + 0.75) / 3)


def test_summary_groups_by_system_and_fault_type_and_counts_failures():
    results = [
        CaseResult("c1", "S", "cpu", "a", ["a", "b"]),
        CaseResult("c2", "S", "cpu", "a", ["b", "a"]),
        CaseResult("c3", "S", "net", "b", ["b"]),
        CaseResult("c4", "T", "?", None, error="load: TelemetryError: broken"),
    ]
    report = summarize(results)
    rows = {row["group"]: row for row in report["table"]}
    assert rows["all"]["count"] == 4 and rows["all"]["failures"] == 1 and rows["all"]["AC@1"] == 0.5
    assert rows["system=S fault=cpu"]["AC@1"] == 0.5 and rows["system=S fault=cpu"]["AC@2"] == 1.0
    assert rows["system=S fault=net"]["AC@1"] == 1.0
    assert report["failures"] == [{"case_id": "c4", "error": "load: TelemetryError: broken"}]
    assert "FAILED c4" in format_table(report)


def test_evaluate_reports_a_failing_rank_fn_and_goes_on():
    seen = []

    def broken(incident):
        raise RuntimeError("reasoner crashed")

    report = evaluate_rca(str(DEMO), broken, on_progress=lambda i, n, r: seen.append((i, n, r.error)))
    assert seen == [(1, 1, "rank: RuntimeError: reasoner crashed")]
    assert report["table"][0]["AC@1"] == 0.0 and report["table"][0]["failures"] == 1


def test_evaluate_scores_the_statistical_ranking_on_the_demo():
    from engine.evaluation.rca import statistical_ranking

    report = evaluate_rca(str(DEMO), statistical_ranking)
    assert report["cases"][0]["position"] == 1
    assert report["table"][0]["AC@1"] == 1.0
