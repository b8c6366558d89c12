"""The fault-kind classifier: the fault type at one entity from which of its signals moved, trained at the true
root cause, with synthetic cases filling the types a system lacks."""
from __future__ import annotations

import numpy as np
import pytest

from engine.evaluation.fault_type import (LACKING, PER_TYPE, examples, held_out_report, lacking, protocol_report,
                                          synthetic_training, train)
from engine.tamo.dataset import LabelledCase
from engine.tamo.fault_kind import FEATURES, TELEMETRY_FEATURES, fit_classifier, load_classifier
from engine.tamo.features import CHANNELS, PRIOR_SIGNALS, CaseFeatures
from engine.tamo.logs import SEMANTIC_DIM
from engine.tamo.signatures import SIGNATURES

MOVES = {"cpu_consumed": "ratio:CpuUsageRate(%)", "network_delay": "wire_delay", "return": "log_new_error_lines"}


def case(number: int, system: str, fault: str, rng: np.random.Generator, n: int = 5) -> LabelledCase:
    """Noise everywhere; the root's signature for the fault type jumps (by a drawn amount)."""
    entities = [f"svc-{i}" for i in range(n)]
    signature = rng.normal(0.0, 0.2, size=(n, len(SIGNATURES))).astype(np.float32)
    root = int(rng.integers(n))
    signature[root, SIGNATURES.index(MOVES[fault])] += rng.uniform(1.5, 3.0)
    features = CaseFeatures(f"{system}-{fault}-{number:02d}", system, entities,
                            rng.normal(0.0, 0.3, size=(n, 16, len(CHANNELS))).astype(np.float32),
                            np.zeros((n, SEMANTIC_DIM), dtype=np.float32), np.zeros((n, n), dtype=np.float32),
                            np.zeros((n, len(PRIOR_SIGNALS)), dtype=np.float32), signature=signature)
    return LabelledCase(features, entities[root], fault)


def cases(system: str, faults: tuple[str, ...], seed: int, each: int = 15) -> list[LabelledCase]:
    rng = np.random.default_rng(seed)
    return [case(i, system, fault, rng) for fault in faults for i in range(each)]


def test_it_names_the_type_whose_signal_moved_and_says_which_signal():
    model = train(examples(cases("A", tuple(MOVES), seed=1)), [])
    for held_out in examples(cases("A", tuple(MOVES), seed=2, each=3)):
        assert model.predict(held_out.at_truth) == held_out.fault_type
        assert model.explain(held_out.at_truth)[0]["feature"] == MOVES[held_out.fault_type]


def test_exception_and_return_are_told_apart_by_what_the_code_does_not_by_the_containers_memory():
    """In training every exception also happened to raise memory; a return whose memory rises is still a
    return, because the code group's stage does not read memory (one softmax over every feature would follow
    the memory and call it an exception)."""
    rng = np.random.default_rng(4)
    rows = rng.normal(0.0, 0.2, size=(40, len(FEATURES)))
    labels = ["exception"] * 20 + ["return"] * 20
    rows[:20, FEATURES.index("log_missing_templates")] += 1.0
    rows[:20, FEATURES.index("ratio:MemoryUsageRate(%)")] += 2.0
    rows[20:, FEATURES.index("log_new_error_lines")] += 1.0
    model = fit_classifier(rows, labels, [f"case-{k}" for k in range(40)])
    a_return = np.zeros(len(FEATURES))
    a_return[FEATURES.index("log_new_error_lines")] = 1.0
    a_return[FEATURES.index("ratio:MemoryUsageRate(%)")] = 3.0
    assert model.predict(a_return) == "return"


def test_a_delay_learnt_from_edge_latencies_is_still_named_where_the_system_records_none():
    """In training every delay showed on the edge-latency signatures and in the root's own span time, every CPU
    fault in its CPU and span time; a delay on a system without an edge-latency table (those features 0) moves
    only the span time, and is still a delay, not a CPU fault nor "nothing moved" (an exception here)."""
    rng = np.random.default_rng(7)
    rows = rng.normal(0.0, 0.1, size=(45, len(FEATURES)))
    labels = ["network_delay"] * 15 + ["cpu_contention"] * 15 + ["exception"] * 15
    own_time, cpu = FEATURES.index("window:trace_own_time"), FEATURES.index("ratio:CpuUsageRate(%)")
    rows[:15, list(TELEMETRY_FEATURES["edge latency"])] += 3.0
    rows[:15, own_time] += 1.5
    rows[15:30, [cpu, own_time]] += 1.5
    rows[30:, FEATURES.index("log_missing_templates")] += 1.0
    model = fit_classifier(rows, labels, [f"case-{k}" for k in range(45)])
    delay_without_edges = np.zeros(len(FEATURES))
    delay_without_edges[own_time] = 1.5
    assert model.predict(delay_without_edges) == "network_delay"


def test_saved_and_loaded_it_gives_the_same_probabilities(tmp_path):
    model = train(examples(cases("A", tuple(MOVES), seed=1)), [])
    row = examples(cases("A", ("return",), seed=3, each=1))[0].at_truth
    assert load_classifier(model.save(tmp_path / "kind.json")).probabilities(row) == model.probabilities(row)


def test_a_file_of_other_features_is_refused_naming_the_file(tmp_path):
    path = train(examples(cases("A", tuple(MOVES), seed=1)), []).save(tmp_path / "kind.json")
    path.write_text(path.read_text().replace(FEATURES[0], "something-else"))
    with pytest.raises(ValueError, match="kind.json"):
        load_classifier(path)


def test_only_synthetic_cases_of_types_no_real_case_shows_are_added():
    real = examples(cases("A", ("cpu_consumed",), seed=1) + cases("B", ("network_delay",), seed=2))
    synthetic = examples(cases("A", ("cpu_consumed", "return"), seed=3) + cases("B", ("network_delay",), seed=4))
    assert {(e.system, e.fault_type) for e in lacking(real, synthetic)} == {("A", "return")}


def test_held_out_system_gets_types_it_lacks_from_synthetic_cases_not_from_its_own_real_ones():
    """Cross-system: system B's real cases only ever show CPU; trained on them plus B's synthetic delays, the
    classifier names A's real delays, which no real case it saw showed."""
    real = examples(cases("A", ("cpu_consumed", "network_delay"), seed=1) + cases("B", ("cpu_consumed",), seed=2))
    synthetic = examples(cases("B", ("network_delay",), seed=3))
    report = protocol_report(real, synthetic, "cross-system")
    assert report["at"]["true root cause"]["per_system"]["A"]["accuracy"] == 1.0
    without = protocol_report(real, [], "cross-system")
    assert without["at"]["true root cause"]["confusion"]["network_delay"]["network_delay"] == 0


def test_a_synthetic_test_folder_is_scored_by_a_model_trained_on_everything_else():
    real = examples(cases("A", tuple(MOVES), seed=1))
    report = held_out_report(real, [], examples(cases("A", tuple(MOVES), seed=5, each=2)))
    assert report["at"]["true root cause"]["cases"] == 6
    assert report["at"]["true root cause"]["accuracy"] == 1.0
    assert report["at"]["top of the statistical ranking"]["cases"] == 0  # no ranking given


def test_rows_of_almost_no_weight_fit_as_if_they_were_not_there():
    """Synthetic rows at a reduced weight: at a vanishing one (here mislabelled: every one a return) the fit is
    the fit without them; at weight 1 they pull their fault type."""
    real = examples(cases("A", tuple(MOVES), seed=1))
    noise = examples(cases("A", ("cpu_consumed", "network_delay"), seed=6, each=10))
    rows = np.stack([e.at_truth for e in real + noise])
    labels = [e.fault_type for e in real] + ["return"] * len(noise)
    ids = [e.case_id for e in real]
    alone = fit_classifier(rows[:len(real)], labels[:len(real)], ids)
    faint = fit_classifier(rows, labels, ids, np.array([1.0] * len(real) + [1e-6] * len(noise)))
    full = fit_classifier(rows, labels, ids, np.ones(len(rows)))
    probe = examples(cases("A", ("cpu_consumed",), seed=7, each=1))[0].at_truth
    assert faint.probabilities(probe) == pytest.approx(alone.probabilities(probe), abs=1e-3)
    assert full.probabilities(probe)["return"] > alone.probabilities(probe)["return"] + 0.05
    assert fit_classifier(rows, labels, ids, np.ones(len(rows))).probabilities(probe) == \
        fit_classifier(rows, labels, ids).probabilities(probe)


def test_synthetic_cases_join_as_lacking_types_per_type_or_at_a_fixed_weight():
    real = examples(cases("A", ("cpu_consumed",), seed=1))
    synthetic = examples(cases("A", ("cpu_consumed",), seed=3, each=4) + cases("A", ("return",), seed=4, each=5))
    chosen, weights = synthetic_training(real, synthetic, LACKING)
    assert {e.fault_type for e in chosen} == {"return"} and weights == [1.0] * 5
    chosen, weights = synthetic_training(real, synthetic, PER_TYPE)
    by_type = {kind: sum(w for e, w in zip(chosen, weights) if e.fault_type == kind)
               for kind in ("cpu_consumed", "return")}
    assert len(chosen) == 9 and by_type == pytest.approx({"cpu_consumed": 1.0, "return": 1.0})
    assert synthetic_training(real, synthetic, 0.2) == (synthetic, [0.2] * 9)
