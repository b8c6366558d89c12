"""The protocol scores every fitted ranker only on cases it was not fitted on, and the stacked ranker learns to
trust the tool that is right on the training cases."""
from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from engine.evaluation.protocol import evaluate_split, run_protocol, splits_for
from engine.stacking.ranker import DEFAULT_SET, FEATURE_SETS, RANK_FUSION, fit_ranker, load_ranker
from engine.stacking.tools import FEATURES, CaseTools

ENTITIES = [f"svc-{i}" for i in range(6)]


def _case(n: int, system: str, fault: str, tamo_in_sample: bool = False) -> CaseTools:
    """The statistical order puts the truth third; TAMO T2 (and nothing else) points at it."""
    rng = random.Random(n)
    truth = ENTITIES[2]
    rows = []
    for position, entity in enumerate(ENTITIES):
        row = {f: rng.random() * 0.3 for f in FEATURES}
        row["fused"], row["fused_rank"], row["reachable"] = 1.0 - 0.1 * position, 1 / (position + 1), 1.0
        row["tamo"] = 1.0 if entity == truth else rng.random() * 0.4
        row["tamo_rank"] = 1.0 if entity == truth else 0.3
        rows.append([row[f] for f in FEATURES])
    return CaseTools(f"{system}-{n:02d}", system, fault, truth, list(ENTITIES), rows, has_tamo=True,
                     tamo_in_sample=tamo_in_sample)


@pytest.fixture
def cases() -> list[CaseTools]:
    return [_case(n, system, fault) for n in range(12) for system, fault in
            [("A", ("cpu", "delay", "loss")[n % 3]), ("B", ("cpu", "delay")[n % 2])]]


@pytest.mark.parametrize("protocol", ["kfold", "cross-system", "leave-fault-type-out"])
def test_every_case_is_scored_once_and_never_by_a_ranker_fitted_on_it(cases, protocol):
    splits = splits_for(protocol, cases, folds=4)
    tested = [c.case_id for _, _, test in splits for c in test]
    assert sorted(tested) == sorted(c.case_id for c in cases)
    for _, train, test in splits:
        assert not {c.case_id for c in train} & {c.case_id for c in test}
    if protocol == "cross-system":
        assert all({c.system for c in train}.isdisjoint({c.system for c in test}) for _, train, test in splits)


def test_stacked_ranker_beats_the_statistical_order_out_of_sample(cases):
    rows = {(r["method"], r["system"]): r for r in run_protocol("kfold", cases, folds=4)}
    assert rows[("statistical ranking (current)", "all")]["AC@1"] == 0.0
    assert rows[("TAMO T2 alone", "all")]["AC@1"] == 1.0
    assert rows[("stacked (heuristics + TAMO T2)", "all")]["AC@1"] == 1.0


def test_tamo_rows_leave_out_cases_its_checkpoint_was_trained_on(cases):
    cases[0].tamo_in_sample = True
    results = evaluate_split(("fold", cases[1:], cases))
    assert results["TAMO T2 alone"][0][1] is None  # not scored
    assert "stacked (heuristics + TAMO T2)" not in results  # T2 is not out of sample everywhere: not stacked
    assert "stacked (heuristic tools)" in results  # a set without T2 still is
    row = run_protocol("train-test", cases, cases[1:])
    tamo_all = next(r for r in row if r["method"] == "TAMO T2 alone" and r["system"] == "all")
    assert tamo_all["cases"] == len(cases) - 1 and "1 cases not scored" in tamo_all["note"]


def test_a_stacked_ranker_round_trips_and_a_bad_file_is_named(cases, tmp_path):
    ranker = fit_ranker(cases)
    path = ranker.save(tmp_path / "stacker.json")
    again = load_ranker(path)
    assert again.rank(cases[0]) == ranker.rank(cases[0]) and again.by_system == ranker.by_system
    assert again.trained_on == [c.case_id for c in cases]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json: not a stacked ranker"):
        load_ranker(tmp_path / "bad.json")


def test_out_of_fold_tamo_scores_replace_only_the_tamo_columns(cases):
    from engine.stacking.tools import with_tamo

    case = cases[0]
    case.has_tamo, case.tamo_in_sample = False, True
    scored = with_tamo(case, [("svc-4", 0.6), ("svc-1", 0.3), ("not-an-entity", 0.1)])
    assert scored.has_tamo and not scored.tamo_in_sample
    assert list(scored.column("tamo")) == [0.0, 0.5, 0.0, 0.0, 1.0, 0.0]
    assert list(scored.column("tamo_rank")) == [0.0, 0.5, 0.0, 0.0, 1.0, 0.0]
    assert (scored.column("fused") == case.column("fused")).all()



def _conflict(n: int, decisive: str) -> CaseTools:
    """The statistics put svc-0 first, TAMO T2 svc-1; the `decisive` tool ('fused' or 'tamo') leads its own
    runner-up by far and is right, the other leads its runner-up by a hair. The two entities' own rows are the same
    either way: only how far each tool's top stands out tells the cases apart."""
    fused = {"svc-0": 1.0, "svc-2": 0.3 if decisive == "fused" else 0.97, "svc-1": 0.2}
    tamo = {"svc-1": 1.0, "svc-3": 0.3 if decisive == "tamo" else 0.97, "svc-0": 0.2}
    order = ["svc-0", "svc-2", "svc-1", "svc-3", "svc-4", "svc-5"]
    tamo_order = sorted(order, key=lambda e: -tamo.get(e, 0.1))
    rows = []
    for position, entity in enumerate(order):
        row = dict.fromkeys(FEATURES, 0.1)
        row["fused"], row["fused_rank"] = fused.get(entity, 0.1), 1 / (position + 1)
        row["tamo"], row["tamo_rank"] = tamo.get(entity, 0.1), 1 / (tamo_order.index(entity) + 1)
        rows.append([row[f] for f in FEATURES])
    truth = "svc-0" if decisive == "fused" else "svc-1"
    return CaseTools(f"{decisive}-{n:02d}", "A", "delay", truth, order, rows, has_tamo=True)


def test_each_tools_lead_lets_the_stacker_follow_whichever_tool_is_decisive_on_the_case():
    train = [_conflict(n, decisive) for n in range(10) for decisive in ("fused", "tamo")]
    held_out = [_conflict(n, decisive) for n in range(10, 12) for decisive in ("fused", "tamo")]
    scores_alone = fit_ranker(train, RANK_FUSION)
    with_leads = fit_ranker(train, RANK_FUSION + ("fused_lead", "tamo_lead"))
    assert all(with_leads.rank(c)[0] == c.truth for c in held_out)
    assert sum(scores_alone.rank(c)[0] == c.truth for c in held_out) == len(held_out) // 2


def test_synthetic_cases_join_the_fit_without_drowning_the_real_ones():
    real = [_conflict(n, "tamo") for n in range(6)]
    synthetic = [_conflict(n, "fused") for n in range(40)]
    ranker = fit_ranker(real, RANK_FUSION, synthetic)
    assert ranker.rank(_conflict(99, "tamo"))[0] == "svc-1"  # the real cases' tool still wins the conflict
    assert ranker.trained_on == [c.case_id for c in real]
    assert fit_ranker(real, RANK_FUSION).weights != ranker.weights


def test_a_stacker_file_written_before_the_confidence_features_still_loads_and_ranks(tmp_path):
    old = {"kind": "stacked-ranker", "features": ["fused", "fused_rank", "tamo", "tamo_rank"],
           "weights": [1.49, 1.45, 1.89, 1.51], "trained_on": ["ob-01"]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    ranker = load_ranker(tmp_path / "old.json")
    case = _conflict(0, "fused")
    assert ranker.uses_tamo and ranker.rank(case)[0] == "svc-1"  # T2's 1.89 outweighs the statistics' lead
    assert ranker.scores(case)[0] == pytest.approx(1.49 * 1.0 + 1.45 * 1.0 + 1.89 * 0.2 + 1.51 / 3)


def test_a_tool_trusted_on_one_system_is_not_trusted_on_another_where_it_fails():
    """TAMO T2 is right on system A's conflicts and wrong on system B's (a fault type its training never saw there):
    the per-system offsets follow it on A and not on B; a system never trained on gets the shared weights."""
    def on(system: str, case: CaseTools, tamo_right: bool) -> CaseTools:
        return replace(case, case_id=f"{system}-{case.case_id}", system=system,
                       truth="svc-1" if tamo_right else "svc-0")

    train = [on(system, _conflict(n, "fused"), system == "A") for n in range(12) for system in ("A", "B")]
    ranker = fit_ranker(train, RANK_FUSION)
    held_out = _conflict(99, "fused")
    assert ranker.rank(on("A", held_out, True))[0] == "svc-1"
    assert ranker.rank(on("B", held_out, False))[0] == "svc-0"
    assert set(ranker.by_system) == {"A", "B"}
    assert list(ranker.weights_for("C")) == ranker.weights


def _network_or_code(n: int, network: bool) -> CaseTools:
    """The statistics put svc-0 first, TAMO T2 svc-1. A code fault: no caller waits anywhere and TAMO T2 is right;
    a network fault at svc-0: its callers wait on it (a wait standing of .3 to .9) and the statistics are right."""
    wait = random.Random(n).uniform(0.3, 0.9) if network else 0.0
    tamo_order = ["svc-1", "svc-0", "svc-2", "svc-3", "svc-4", "svc-5"]
    rows = []
    for position, entity in enumerate(ENTITIES):
        row = dict.fromkeys(FEATURES, 0.0)
        row["fused"], row["fused_rank"] = (1.0, 0.8, 0.3, 0.2, 0.1, 0.1)[position], 1 / (position + 1)
        row["tamo"], row["tamo_rank"] = (0.5, 1.0, 0.2, 0.1, 0.1, 0.1)[position], 1 / (tamo_order.index(entity) + 1)
        row["standing:wait"] = wait if entity == "svc-0" else 0.0
        rows.append([row[f] for f in FEATURES])
    return CaseTools(f"{'network' if network else 'code'}-{n:02d}", "A", "?", "svc-0" if network else "svc-1",
                     list(ENTITIES), rows, has_tamo=True)


def test_tamo_counts_for_less_in_a_case_where_callers_wait_on_a_service():
    network, code = _network_or_code(0, True), _network_or_code(0, False)
    wait = network.column("standing:wait").max()
    gated = network.features(("tamo_unless_wait", "tamo_rank_unless_wait"))
    assert gated[:, 0] == pytest.approx((1 - wait) * network.column("tamo"))
    assert gated[:, 1] == pytest.approx((1 - wait) * network.column("tamo_rank"))
    assert (code.features(("tamo_unless_wait",))[:, 0] == code.column("tamo")).all()


def test_the_default_stacker_follows_tamo_on_code_faults_and_the_waits_on_network_faults():
    train = [_network_or_code(n, n % 2 == 0) for n in range(20)]
    held_out = [_network_or_code(n, n % 2 == 0) for n in range(20, 30)]
    ranker = fit_ranker(train)
    assert ranker.features == FEATURE_SETS[DEFAULT_SET] and "tamo_unless_wait" in ranker.features
    assert [ranker.rank(c)[0] for c in held_out] == [c.truth for c in held_out]
