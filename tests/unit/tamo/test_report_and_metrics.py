from __future__ import annotations

import numpy as np

from engine.tamo.dataset import LabelledCase
from engine.evaluation.tamo import fault_type_scores, protocol_folds, ranking_scores, system_and_fault_type
from engine.tamo.expert import expert_report
from engine.tamo.model import Inference, causal_edges

from .conftest import chain_topology


def _inference(ranking, types=None) -> Inference:
    return Inference(ranking, [("svc-3", "svc-2", 0.6)], types or {"cpu": 0.8, "delay": 0.2})


def test_report_cites_numbers_and_walks_the_topology_upstream():
    report = expert_report(_inference([("svc-3", 0.9), ("svc-1", 0.05)]), chain_topology(), alert_entity="svc-0")
    assert report["root_cause"] == "svc-3" and report["fault_type"] == "cpu"
    assert report["impact"]["affected_upstream"] == ["svc-0", "svc-1", "svc-2"]
    assert report["impact"]["entry_point_affected"] is True
    assert "0.90" in report["fault_analysis"] and "0.80" in report["fault_analysis"]
    assert "svc-2 (0.60)" in report["fault_analysis"]
    assert report["priority"]["level"] == "P1"


def test_report_for_a_leaf_root_without_callers_is_low_priority():
    report = expert_report(_inference([("svc-0", 0.3), ("svc-1", 0.1)], {"exception": 0.6, "return": 0.4}),
                           chain_topology(), alert_entity="svc-5")
    assert report["impact"]["count"] == 0 and report["priority"]["level"] == "P3"
    assert any("error log" in step for step in report["remediation"])


def test_causal_edges_read_attention_as_explained_by():
    weights = np.array([[0.1, 0.8, 0.1], [0.34, 0.33, 0.33], [0.05, 0.9, 0.05]])
    edges = causal_edges(["a", "b", "c"], weights)
    assert edges == [("b", "c", 0.9), ("b", "a", 0.8)]


def _case(system: str, number: int, root: str, fault: str, synthetic) -> LabelledCase:
    features = synthetic.features
    features.system, features.case_id = system, f"{system}-{number}"
    return LabelledCase(features, root, fault)


def test_scores_count_ranks_per_system(synthetic_cases):
    results = []
    for number, (rank, fault, guess) in enumerate([(0, "cpu", "cpu"), (2, "cpu", "delay"), (7, "delay", "delay")]):
        case = _case("A", number, "svc-0", fault, synthetic_cases[number])
        others = [(f"x{i}", 0.1) for i in range(rank)]
        results.append((case, _inference(others + [("svc-0", 0.05)], {guess: 0.9, "other": 0.1})))
    scores = ranking_scores(results)["A"]
    assert scores["AC@1"] == round(1 / 3, 4) and scores["AC@3"] == round(2 / 3, 4)
    assert scores["Avg@5"] == round((1 + 1 + 2 + 2 + 2) / 15, 4)
    types = fault_type_scores(results)
    assert types["accuracy"] == round(2 / 3, 4) and types["macro_f1"] == round((2 / 3 + 2 / 3) / 2, 4)
    by_type = ranking_scores(results, system_and_fault_type)
    assert (by_type["A / cpu"]["AC@1"], by_type["A / cpu"]["AC@3"], by_type["A / cpu"]["cases"]) == (0.5, 1.0, 2)
    assert by_type["A / delay"]["AC@3"] == 0.0 and by_type["all"] == scores


def test_folds_never_share_a_case_and_mix_systems(synthetic_cases):
    cases = [_case("AB"[i % 2], i, "svc-0", "cpu", c) for i, c in enumerate(synthetic_cases)]
    folds = protocol_folds(cases, "kfold", 4)
    flat = [case.features.case_id for fold in folds for case in fold.test]
    assert sorted(flat) == sorted(case.features.case_id for case in cases)
    assert all({case.features.system for case in fold.test} == {"A", "B"} for fold in folds)


def test_confusion_matrix_counts_each_true_type_by_its_guess(synthetic_cases):
    results = [(_case("A", i, "svc-0", fault, synthetic_cases[i]), _inference([("svc-0", 1.0)], {guess: 1.0}))
               for i, (fault, guess) in enumerate([("cpu", "cpu"), ("cpu", "delay"), ("delay", "delay"), ("delay", "net")])]
    confusion = fault_type_scores(results)["confusion"]
    assert confusion == {"cpu": {"cpu": 1, "delay": 1, "net": 0}, "delay": {"cpu": 0, "delay": 1, "net": 1},
                         "net": {"cpu": 0, "delay": 0, "net": 0}}
