"""Fault signatures on hand-built incidents, and T3 telling an error-writing root (return) from a silenced one
(exception) through them."""
from __future__ import annotations

import networkx as nx
import numpy as np

from engine.tamo.dataset import LabelledCase
from engine.tamo.features import CHANNELS, PRIOR_SIGNALS, CaseFeatures
from engine.tamo.grid import STEP_SECONDS, Grid
from engine.tamo.logs import SEMANTIC_DIM
from engine.tamo.model import TrainConfig, train_model
from engine.tamo.signatures import LOG_SIGNATURES, SIGNATURES, log_signature, metric_signature
from engine.telemetry.model import Alert, Incident, LogRecord, MetricSeries, ReferenceMinute, Window

ALERT = 1_700_000_000.0
ENTITIES = ["api", "orders", "stock"]  # api -> orders -> stock
REGULAR = {"api": "INFO Api#10 [handle][request] <id>", "orders": "INFO Orders#31 [find][order] <id>",
           "stock": "INFO Stock#7 [reserve][item] <id>"}


def _minute(start: float, per_entity: dict[str, list[tuple[str, str]]]) -> list[LogRecord]:
    """Records spread over one minute from `start`: entity -> [(level, template)] written in that minute."""
    records = []
    for entity, lines in per_entity.items():
        for k, (level, template) in enumerate(lines):
            records.append(LogRecord(start + 50.0 * k / max(len(lines), 1), entity, "", level, template))
    return records


def _usual(entity: str, n: int = 20) -> list[tuple[str, str]]:
    return [("INFO", REGULAR[entity])] * n


def _incident(fault: str, root: str = "orders", metrics: dict | None = None) -> Incident:
    """Three fault-free reference minutes, then three window minutes where `root` misbehaves:
    "return" writes ERROR lines next to its usual ones, "exception" stops writing (the request is cut short)."""
    reference = [ReferenceMinute(f"ref-{k}", logs=tuple(_minute(ALERT - 3600 + 60 * k, {e: _usual(e) for e in ENTITIES})))
                 for k in range(3)]
    minute_start = ALERT - ALERT % STEP_SECONDS
    window = []
    for k in range(3):
        lines = {e: _usual(e) for e in ENTITIES}
        if fault == "return":
            lines[root] = _usual(root) + [("ERROR", "ERROR Orders#37 [find][No order found] <id>")] * 15
        elif fault == "exception":
            lines[root] = _usual(root, 2)
        window += _minute(minute_start + 60 * k + 1, lines)
    return Incident("hand-built", "Shop", list(ENTITIES), nx.DiGraph([("api", "orders"), ("orders", "stock")]),
                    Alert("api", "latency", ALERT, "slow"), Window(ALERT, ALERT + 180), Window(ALERT - 3600, ALERT - 600),
                    metrics=metrics or {}, logs=window, reference=reference)


def _signature(incident: Incident) -> dict[str, dict[str, float]]:
    index = {e: i for i, e in enumerate(ENTITIES)}
    values = log_signature(incident, Grid.around(incident.alert.time), index)
    return {e: dict(zip(LOG_SIGNATURES, values[i].tolist())) for e, i in index.items()}


def test_error_lines_at_the_root_stand_out_against_the_reference():
    signature = _signature(_incident("return"))
    root, caller = signature["orders"], signature["api"]
    assert root["log_errors"] > 2.0 and root["log_new_error_templates"] > 0.5 and root["log_error_share"] > 0.3
    assert caller["log_present"] == 1.0 and abs(caller["log_errors"]) < 0.1 and caller["log_new_error_templates"] == 0


def test_a_silenced_root_loses_volume_and_its_regular_templates_without_errors():
    root = _signature(_incident("exception"))["orders"]
    assert root["log_volume"] < -1.5 and root["log_errors"] == 0.0 and root["log_new_error_templates"] == 0.0
    assert root["log_missing_templates"] == 0.0  # still writes its template, only far less often
    quiet = _signature(_incident("none"))["orders"]
    assert abs(quiet["log_volume"]) < 0.1 and quiet["log_error_share"] == 0.0


def test_metric_signature_reads_memory_added_by_a_competing_process():
    times = np.arange(ALERT - 3600, ALERT + 240, 60.0)
    memory = np.where(times >= ALERT - ALERT % 60, 30.0, 20.0)  # +10 MiB from the alert minute on
    series = MetricSeries("orders", times, {"MemoryUsage(Mi)": memory, "MemoryUsageRate(%)": memory / 2})
    values = metric_signature(_incident("none", metrics={"orders": series}), Grid.around(ALERT),
                              {e: i for i, e in enumerate(ENTITIES)})
    named = dict(zip(SIGNATURES[len(LOG_SIGNATURES):], values[1].tolist()))
    assert abs(named["delta:MemoryUsage(Mi)"] - np.log1p(10.0)) < 1e-5
    assert abs(named["ratio:MemoryUsageRate(%)"] - np.log(16.0 / 11.0)) < 1e-5
    assert named["delta:CpuUsage(m)"] == 0.0 and not values[0].any()


def _latency(entity: str, name: str, slowed: bool) -> MetricSeries:
    """0.02 s before the alert minute; 0.2 s from it on when `slowed`."""
    times = np.arange(ALERT - 3600, ALERT + 240, 60.0)
    after = times >= ALERT - ALERT % 60
    return MetricSeries(entity, times, {name: np.where(after & slowed, 0.2, 0.02)})


def _wire(server_slowed: bool) -> dict[str, float]:
    """Calls from orders into stock take 10x longer; stock's own server latency moves too or not."""
    incident = _incident("none", metrics={"stock": _latency("stock", "PodServerLatencyP90(s)", server_slowed)})
    incident.edge_metrics = {("orders", "stock"): _latency("orders", "latency_p50(s)", True)}
    values = metric_signature(incident, Grid.around(ALERT), {e: i for i, e in enumerate(ENTITIES)})
    return dict(zip(SIGNATURES[len(LOG_SIGNATURES):], values[ENTITIES.index("stock")].tolist()))


def test_a_delay_on_the_wire_reads_as_slow_calls_into_an_entity_that_serves_as_fast_as_before():
    delayed, busy = _wire(server_slowed=False), _wire(server_slowed=True)
    expected = np.log(0.205 / 0.025)
    assert abs(delayed["edge_in_latency"] - expected) < 1e-4 and abs(delayed["wire_delay"] - expected) < 1e-4
    assert abs(busy["edge_in_latency"] - expected) < 1e-4 and abs(busy["wire_delay"]) < 0.1  # slow on its own


def _labelled(number: int, fault: str, rng: np.random.Generator) -> LabelledCase:
    """A case whose only clue to the fault type is the log signature of the hand-built incident."""
    root = ("orders", "stock")[number % 2]
    index = {e: i for i, e in enumerate(ENTITIES)}
    incident = _incident(fault, root)
    signature = np.zeros((len(ENTITIES), len(SIGNATURES)), dtype=np.float32)
    signature[:, :len(LOG_SIGNATURES)] = log_signature(incident, Grid.around(ALERT), index)
    series = rng.normal(0.0, 0.3, size=(len(ENTITIES), 16, len(CHANNELS))).astype(np.float32)
    series[index[root], -3:, CHANNELS.index("metric:PodServerLatencyP90(s)")] += 3.0  # where, not what
    adjacency = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=np.float32)
    prior = np.abs(rng.normal(0.0, 0.2, size=(len(ENTITIES), len(PRIOR_SIGNALS)))).astype(np.float32)
    features = CaseFeatures(f"shop-{number:02d}", "Shop", list(ENTITIES), series,
                            np.zeros((len(ENTITIES), SEMANTIC_DIM), dtype=np.float32), adjacency, prior,
                            signature=signature)
    return LabelledCase(features, root, fault)


def test_t3_calls_a_root_writing_new_error_lines_a_return_and_a_silenced_root_an_exception():
    rng = np.random.default_rng(5)
    cases = [_labelled(i, ("return", "exception")[(i // 2) % 2], rng) for i in range(12)]
    model = train_model(cases[:8], TrainConfig(seed=1, t1_steps=10, t2_steps=60, t3_steps=60, lr=1e-2))
    for case in cases[8:]:
        types = model.infer(case.features).fault_types
        assert max(types, key=types.get) == case.fault_type, (case.features.case_id, case.fault_type, types)
