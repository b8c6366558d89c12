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


def test_fault_type_accuracy_scores_every_labelled_case_and_a_missing_type_as_wrong():
    results = [
        CaseResult("c1", "S", "cpu", "a", ["a"], predicted_fault_type="cpu"),
        CaseResult("c2", "S", "net", "a", ["a"], predicted_fault_type="cpu"),
        CaseResult("c3", "S", "net", "a", ["a"]),  # no type named: a miss, not left out
        CaseResult("c4", "T", "?", "b", ["b"], predicted_fault_type="cpu"),  # no label type: not scored
    ]
    report = summarize(results)
    rows = {row["group"]: row for row in report["table"]}
    assert rows["all"]["fault_type_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert rows["system=S fault=net"]["fault_type_accuracy"] == 0.0 and rows["system=T"]["fault_type_accuracy"] is None
    assert [case["fault_type_correct"] for case in report["cases"]] == [True, False, False, None]
    assert report["fault_type"]["cases"] == 3 and report["fault_type"]["named"] == 2
    assert report["fault_type"]["confusion"]["net"] == {"-": 1, "cpu": 1, "net": 0}


def test_a_ranking_function_that_names_no_fault_type_has_no_fault_type_figures():
    report = summarize([CaseResult("c1", "S", "cpu", "a", ["a"])])
    assert report["fault_type"] is None and report["table"][0]["fault_type_accuracy"] is None


def test_a_rank_fn_may_name_the_fault_type_beside_its_ranking():
    from engine.evaluation.rca import statistical_ranking

    report = evaluate_rca(str(DEMO), lambda incident: {"ranking": statistical_ranking(incident),
                                                      "fault_type": incident.label.fault_type})
    assert report["cases"][0]["predicted_fault_type"] == "exception" and report["cases"][0]["fault_type_correct"]
    assert report["table"][0]["AC@1"] == 1.0 and report["fault_type"]["accuracy"] == 1.0
