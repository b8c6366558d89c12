"""The fault-kind classifier: the fault type at one entity from which of its signals moved, trained at the true
root cause, with synthetic cases filling the types a system lacks."""
from __future__ import annotations

import numpy as np
import pytest

from engine.evaluation.fault_type import (LACKING, PER_TYPE, examples, held_out_report, lacking, protocol_report,
                                          synthetic_training, train)
from engine.tamo.dataset import LabelledCase
from engine.tamo.fault_kind import (FEATURES, GROUP_EVIDENCE, TELEMETRY_FEATURES, fit_classifier, group_evidence,
                                    group_of, load_classifier)
from engine.tamo.features import CHANNELS, PRIOR_SIGNALS, CaseFeatures
from engine.tamo.logs import SEMANTIC_DIM
from engine.tamo.signatures import SIGNATURES, WINDOW_START

# fault type -> the signature that jumps at the root, and the channel whose window it raises (its group's evidence)
MOVES = {"cpu_consumed": ("ratio:CpuUsageRate(%)", "metric:CpuUsageRate(%)"),
         "network_delay": ("wire_delay", "trace_own_time"), "return": ("log_new_error_lines", "log_errors")}


def case(number: int, system: str, fault: str, rng: np.random.Generator, n: int = 5) -> LabelledCase:
    """Noise everywhere; at the root the fault type's signature jumps, and its channel in the alert window (by
    drawn amounts)."""
    entities = [f"svc-{i}" for i in range(n)]
    signature = rng.normal(0.0, 0.2, size=(n, len(SIGNATURES))).astype(np.float32)
    series = rng.normal(0.0, 0.3, size=(n, 16, len(CHANNELS))).astype(np.float32)
    root = int(rng.integers(n))
    moved_signature, moved_channel = MOVES[fault]
    signature[root, SIGNATURES.index(moved_signature)] += rng.uniform(1.5, 3.0)
    series[root, WINDOW_START:, CHANNELS.index(moved_channel)] += rng.uniform(1.5, 3.0)
    features = CaseFeatures(f"{system}-{fault}-{number:02d}", system, entities, series,
                            np.zeros((n, SEMANTIC_DIM), dtype=np.float32), np.zeros((n, n), dtype=np.float32),
                            np.zeros((n, len(PRIOR_SIGNALS)), dtype=np.float32), signature=signature)
    return LabelledCase(features, entities[root], fault)


def cases(system: str, faults: tuple[str, ...], seed: int, each: int = 15) -> list[LabelledCase]:
    rng = np.random.default_rng(seed)
    return [case(i, system, fault, rng) for fault in faults for i in range(each)]


def test_it_names_the_type_whose_signal_moved_and_says_which_evidence():
    model = train(examples(cases("A", tuple(MOVES), seed=1)), [])
    for held_out in examples(cases("A", tuple(MOVES), seed=2, each=3)):
        assert model.predict(held_out.at_truth) == held_out.fault_type
        assert model.explain(held_out.at_truth)[0]["feature"] == f"evidence:{group_of(held_out.fault_type)}"


def test_group_evidence_is_the_largest_signed_change_of_its_channels_in_the_alert_window():
    """A CPU spike before the alert is no evidence; in the window the CPU reads as resource, the span time as
    network whether or not the system records edge latencies, fewer log lines (a drop) as code."""
    series = np.zeros((16, len(CHANNELS)))
    series[:WINDOW_START, CHANNELS.index("metric:CpuUsageRate(%)")] = 5.0
    assert group_evidence(series).tolist() == [0.0, 0.0, 0.0]
    series[WINDOW_START:, CHANNELS.index("metric:CpuUsageRate(%)")] = 2.0
    series[WINDOW_START:, CHANNELS.index("trace_own_time")] = 1.5
    series[WINDOW_START:, CHANNELS.index("log_count")] = -1.0
    series[WINDOW_START:, CHANNELS.index("log_errors")] = -3.0  # fewer errors than usual is no code evidence
    assert dict(zip(GROUP_EVIDENCE, group_evidence(series))) == {"resource": 2.0, "network": 1.5, "code": 1.0}
    network = list(GROUP_EVIDENCE).index("network")
    series[WINDOW_START:, CHANNELS.index("metric_edge_in")] = 0.5  # an edge-latency table that shows less
    assert group_evidence(series)[network] == 1.5
    server_latency = CHANNELS.index("metric:PodServerLatencyP90(s)")
    series[WINDOW_START:, server_latency] = -1.0  # serving faster than usual adds no wire evidence
    assert group_evidence(series)[network] == 1.5


def test_slowness_the_entity_reports_in_its_own_serving_is_no_network_evidence():
    """A CPU fault slows the entity's spans and its own server latency; a delay on the wire only the spans."""
    cpu_fault, delay = np.zeros((16, len(CHANNELS))), np.zeros((16, len(CHANNELS)))
    for series in (cpu_fault, delay):
        series[WINDOW_START:, CHANNELS.index("trace_own_time")] = 3.0
    cpu_fault[WINDOW_START:, CHANNELS.index("metric:PodServerLatencyP90(s)")] = 2.5
    network = list(GROUP_EVIDENCE).index("network")
    assert group_evidence(delay)[network] == 3.0 and group_evidence(cpu_fault)[network] == 0.5


def test_a_busy_node_is_no_resource_evidence_for_a_container_whose_own_cpu_and_memory_did_not_move():
    """A neighbour on the same node burning CPU raises the node's CPU, not this container's: the entity it
    slows is no resource fault; its own CPU or memory rising is."""
    busy_node = np.zeros((16, len(CHANNELS)))
    busy_node[WINDOW_START:, CHANNELS.index("metric:NodeCpuUsageRate(%)")] = 3.0
    resource = list(GROUP_EVIDENCE).index("resource")
    assert group_evidence(busy_node)[resource] == 0.0
    busy_node[WINDOW_START:, CHANNELS.index("metric:MemoryUsageRate(%)")] = 1.0
    assert group_evidence(busy_node)[resource] == 1.0


def test_a_cpu_burst_that_fades_within_the_window_is_no_resource_evidence_and_one_that_holds_is():
    """A code fault's CPU burst at the alert (exceptions handled, the injection attaching) has faded by the window's
    last minute; a CPU fault holds the CPU until it is removed, also one that started late in the window."""
    fading, late = np.zeros((16, len(CHANNELS))), np.zeros((16, len(CHANNELS)))
    cpu = CHANNELS.index("metric:CpuUsageRate(%)")
    fading[WINDOW_START:, cpu] = 4.0, 1.0, 0.2
    late[-1, cpu] = 3.0
    resource = list(GROUP_EVIDENCE).index("resource")
    assert group_evidence(fading)[resource] == 0.2
    assert group_evidence(late)[resource] == 3.0


def test_a_live_window_whose_last_minutes_are_not_recorded_yet_reads_the_cpu_where_it_was_last_recorded():
    """Right after the alert the window's later minutes hold no metrics yet (they read 0): a CPU fault held through
    the minutes recorded so far is still resource evidence, not "no change"."""
    live = np.zeros((16, len(CHANNELS)))
    live[WINDOW_START, CHANNELS.index("metric:CpuUsageRate(%)")] = 3.5
    assert group_evidence(live)[list(GROUP_EVIDENCE).index("resource")] == 3.5


def _named_after_training_on_shifts(seed: int, names: tuple[str, ...], shifts: dict[str, tuple[float, ...]],
                                    probe: tuple[float, ...]) -> str:
    """The kind a classifier names `probe` (values of the features `names`, every other feature 0), fitted on 15
    noisy rows per fault kind, each kind's features `names` shifted by its `shifts`."""
    rng = np.random.default_rng(seed)
    columns = [FEATURES.index(name) for name in names]
    rows, labels = [], []
    for kind, shift in shifts.items():
        for _ in range(15):
            row = rng.normal(0.0, 0.1, size=len(FEATURES))
            row[columns] += shift
            rows.append(row)
            labels.append(kind)
    model = fit_classifier(np.stack(rows), labels, [f"case-{k}" for k in range(len(rows))])
    features = np.zeros(len(FEATURES))
    features[columns] = probe
    return model.predict(features)


def test_cpu_contention_is_named_on_a_small_service_from_the_memory_its_competing_process_adds():
    """Trained where every contention hit a big service (its CPU rose by many millicores) and every consumed CPU a
    small one, both by the same share of their usual CPU, the contentions also adding a process's few MiB: on a
    small service a contention (few millicores, the same MiB) is still a contention, not read off its size."""
    names = ("ratio:CpuUsageRate(%)", "delta:CpuUsage(m)", "delta:MemoryUsage(Mi)", "evidence:resource")
    shifts = {"cpu_contention": (2.5, 5.5, 1.9, 2.5), "cpu_consumed": (2.5, 2.5, 0.6, 2.5)}
    assert _named_after_training_on_shifts(11, names, shifts, probe=(2.5, 2.0, 1.9, 2.5)) == "cpu_contention"


def test_a_consumed_cpu_that_fills_the_container_like_a_contention_is_named_from_what_a_competitor_adds():
    """Trained where every consumed CPU rose its container's CPU less than every contention did, the contentions
    also adding a competing process's MiB and node CPU: a consumed CPU that rises its container's CPU further than
    any training contention, with no MiB or node CPU added, is a consumed CPU, not read off how far the CPU rose."""
    names = ("ratio:CpuUsageRate(%)", "delta:MemoryUsage(Mi)", "delta:NodeCpuUsageRate(%)", "evidence:resource")
    shifts = {"cpu_contention": (2.8, 1.9, 1.2, 2.5), "cpu_consumed": (1.5, 0.6, 0.3, 2.5)}
    assert _named_after_training_on_shifts(13, names, shifts, probe=(3.6, 0.6, 0.3, 2.5)) == "cpu_consumed"


def test_the_group_comes_from_the_evidence_alone_so_it_holds_where_a_system_shows_other_raw_signals():
    """Trained on system A, where a CPU fault moves the CPU ratio (and slows calls a little), a delay the span
    time, an exception the missing log templates, each also its group's evidence. On system B a CPU fault barely
    moves the CPU ratio but slows its spans as much as A's delays did (B's raw signals lie elsewhere), while its
    evidence says the same as A's: resource above network. It is named a CPU fault, not a delay; B records no
    logs, and an exception there, seen only in its code evidence, is still an exception."""
    rng = np.random.default_rng(5)
    cpu, own_time = FEATURES.index("ratio:CpuUsageRate(%)"), FEATURES.index("window:trace_own_time")
    evidence = {group: FEATURES.index(f"evidence:{group}") for group in GROUP_EVIDENCE}
    rows, labels = [], []
    for kind, raw, moved in (("cpu_consumed", cpu, {"resource": (1.5, 3.0), "network": (0.5, 1.5)}),
                             ("network_delay", own_time, {"network": (1.5, 3.0)}),
                             ("exception", FEATURES.index("log_missing_templates"), {"code": (0.5, 1.5)})):
        for _ in range(15):
            row = rng.normal(0.0, 0.1, size=len(FEATURES))
            row[raw] += 3.0
            for group, (low, high) in moved.items():
                row[evidence[group]] += rng.uniform(low, high)
            rows.append(row)
            labels.append(kind)
    model = fit_classifier(np.stack(rows), labels, [f"case-{k}" for k in range(len(rows))])
    cpu_on_b, exception_on_b = np.zeros(len(FEATURES)), np.zeros(len(FEATURES))
    cpu_on_b[[cpu, own_time, evidence["resource"], evidence["network"]]] = 0.3, 3.0, 2.0, 1.0
    exception_on_b[evidence["code"]] = 1.0
    assert model.predict(cpu_on_b) == "cpu_consumed"
    assert model.predict(exception_on_b) == "exception"


def test_a_delay_learnt_from_edge_latencies_is_still_told_from_a_loss_where_the_system_records_none():
    """Within the network group: in training every delay showed on the edge-latency signatures and in the
    root's own span time, every loss in its lost calls and span time; a delay on a system without an
    edge-latency table (those features 0) moves only the span time, and is still a delay."""
    rng = np.random.default_rng(7)
    rows = rng.normal(0.0, 0.1, size=(30, len(FEATURES)))
    labels = ["network_delay"] * 15 + ["network_loss"] * 15
    own_time, lost = FEATURES.index("window:trace_own_time"), FEATURES.index("window:trace_lost_calls")
    rows[:15, list(TELEMETRY_FEATURES["edge latency"])] += 3.0
    rows[:15, own_time] += 1.5
    rows[15:, [lost, own_time]] += 1.5
    model = fit_classifier(rows, labels, [f"case-{k}" for k in range(30)])
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
