"""Per-incident feature tensors for TAMO: one baseline-normalised multichannel series per entity on a
common minute grid (metrics, traces, logs), log semantics per entity, the call topology; cached on disk.

Only telemetry is read here: never the label, never injection fields.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.parallel import write_atomically
from engine.provenance import code_version
from engine.telemetry.model import Incident
from engine.telemetry.ranking import modality_signals
from engine.telemetry.signals import edge_metric_signal
from engine.tamo.grid import Grid, robust_z, squash
from engine.tamo.logs import LOG_CHANNELS, SEMANTIC_DIM, log_channels
from engine.tamo.signatures import SIGNATURES, log_signature, metric_signature
from engine.tamo.traces import TRACE_CHANNELS, trace_channels

FEATURE_VERSION = 4
# metric column -> smallest spread that counts as a deviation, in the metric's unit
METRIC_COLUMNS = {
    "CpuUsageRate(%)": 1.0,
    "MemoryUsageRate(%)": 1.0,
    "SyscallRead": 1.0,
    "NetworkReceiveBytes": 100.0,
    "NetworkTransmitBytes": 100.0,
    "PodClientLatencyP90(s)": 0.01,
    "PodServerLatencyP90(s)": 0.01,
    "PodServerLatencyP99(s)": 0.01,
    "PodWorkload(Ops)": 1.0,
    "PodSuccessRate(%)": 1.0,
    "NodeCpuUsageRate(%)": 1.0,
}
METRIC_CHANNELS = tuple(f"metric:{name}" for name in METRIC_COLUMNS) + ("metric_edge_in", "metric_edge_out")
MASK_CHANNELS = ("has_trace", "has_log")
CHANNELS = METRIC_CHANNELS + TRACE_CHANNELS + LOG_CHANNELS + MASK_CHANNELS
MODALITY_OF_CHANNEL = tuple(
    "metrics" if c.startswith("metric") else "traces" if c.startswith("trace") or c == "has_trace" else "logs"
    for c in CHANNELS
)
# engine.telemetry.ranking's statistical signals used as priors: the ones the shipped checkpoint was trained with
# (a checkpoint names them; ranking modalities added since are not among its inputs)
PRIOR_SIGNALS = ("pattern", "blame", "logs", "latency", "metrics", "edges")


@dataclass
class CaseFeatures:
    case_id: str
    system: str
    entities: list[str]
    series: np.ndarray  # [N, T, C] float32
    semantics: np.ndarray  # [N, SEMANTIC_DIM] float32
    adjacency: np.ndarray  # [N, N] 1 where entity i calls entity j
    prior: np.ndarray  # [N, len(PRIOR_SIGNALS)] log1p of the statistical per-modality anomaly scores
    edges: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # trace latency log-ratio per edge [T]
    signature: np.ndarray | None = None  # [N, len(SIGNATURES)] fault signatures for T3; None reads as zeros

    def __post_init__(self) -> None:
        if self.signature is None:
            self.signature = np.zeros((len(self.entities), len(SIGNATURES)), dtype=np.float32)


def extract_features(incident: Incident, signals: dict | None = None) -> CaseFeatures:
    """`signals`: the incident's `modality_signals` when the caller already has them (they are a third of the
    cost)."""
    grid = Grid.around(incident.alert.time)
    entities = sorted(incident.entities)
    index = {entity: i for i, entity in enumerate(entities)}
    metric_part = _metric_channels(incident, grid, index)
    trace_part, has_trace, edges = trace_channels(incident, grid, index)
    log_part, has_log, semantics = log_channels(incident, grid, index)
    masks = np.broadcast_to(np.stack([has_trace, has_log], axis=-1), (len(entities), grid.steps, 2))
    series = np.concatenate([metric_part, trace_part, log_part, masks], axis=-1).astype(np.float32)
    return CaseFeatures(incident.case_id, incident.system, entities, series, semantics.astype(np.float32),
                        _adjacency(incident, index), _prior(incident, index, signals), edges,
                        np.concatenate([log_signature(incident, grid, index),
                                        metric_signature(incident, grid, index)], axis=1))


def _prior(incident: Incident, index: dict[str, int], signals: dict | None = None) -> np.ndarray:
    """The statistical modalities' scores per entity, the edges as the series alone read them (edge_metric_signal):
    T2 reads the traces in channels of its own, and the shipped checkpoint was trained on that reading."""
    prior = np.zeros((len(index), len(PRIOR_SIGNALS)), dtype=np.float32)
    signals = {**(modality_signals(incident) if signals is None else signals), "edges": edge_metric_signal(incident)}
    for k, name in enumerate(PRIOR_SIGNALS):
        for entity, signal in signals.get(name, {}).items():
            if entity in index:
                prior[index[entity], k] = np.log1p(max(signal.score, 0.0))
    return prior


def _metric_channels(incident: Incident, grid: Grid, index: dict[str, int]) -> np.ndarray:
    out = np.zeros((len(index), grid.steps, len(METRIC_CHANNELS)))
    for entity, series in incident.metrics.items():
        if entity not in index:
            continue
        for c, (name, floor) in enumerate(METRIC_COLUMNS.items()):
            if name in series.values:
                out[index[entity], :, c] = _normalised(series, name, floor, incident, grid)
    for (caller, callee), series in incident.edge_metrics.items():
        for name in series.values:
            values = _normalised(series, name, 0.001, incident, grid)
            for entity, channel in ((callee, -2), (caller, -1)):
                if entity in index:
                    current = out[index[entity], :, channel]
                    out[index[entity], :, channel] = np.where(np.abs(values) > np.abs(current), values, current)
    return out


def _normalised(series, name: str, floor: float, incident: Incident, grid: Grid) -> np.ndarray:
    baseline = series.between(incident.baseline.start, incident.baseline.end)[name]
    return squash(robust_z(grid.bin_means(series.times, series.values[name]), baseline, floor))


def _adjacency(incident: Incident, index: dict[str, int]) -> np.ndarray:
    adjacency = np.zeros((len(index), len(index)), dtype=np.float32)
    for caller, callee in incident.topology.edges:
        if caller in index and callee in index and caller != callee:
            adjacency[index[caller], index[callee]] = 1.0
    return adjacency


# ---- disk cache -------------------------------------------------------------------------------------------

def feature_key(dataset: Path, case_id: str) -> str:
    """The case's cache key: the feature config and the code that extracts the features (TAMO's and the telemetry
    readers' and signals'), so any change there re-extracts (cheap) rather than feeding stale tensors to training."""
    config = {"version": FEATURE_VERSION, "code": code_version("tamo", "telemetry"), "channels": CHANNELS,
              "grid": [Grid.around(0).steps], "semantic": SEMANTIC_DIM, "prior": PRIOR_SIGNALS,
              "signatures": SIGNATURES}
    text = json.dumps([str(Path(dataset).resolve()), case_id, config], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def save_features(path: Path, features: CaseFeatures, truth: dict[str, str]) -> None:
    edge_names = [f"{a}\t{b}" for a, b in features.edges]
    edge_values = np.stack(list(features.edges.values())) if features.edges else np.zeros((0, Grid.around(0).steps))
    meta = {"case_id": features.case_id, "system": features.system, "entities": features.entities,
            "edges": edge_names, "truth": truth}
    write_atomically(path, lambda tmp: np.savez_compressed(
        tmp, series=features.series, semantics=features.semantics, adjacency=features.adjacency,
        prior=features.prior, signature=features.signature, edge_values=edge_values, meta=np.array(json.dumps(meta))),
        ".tmp.npz")


def load_features(path: Path) -> tuple[CaseFeatures, dict[str, str]]:
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        edges = {tuple(name.split("\t")): values for name, values in zip(meta["edges"], data["edge_values"])}
        features = CaseFeatures(meta["case_id"], meta["system"], meta["entities"], data["series"],
                                data["semantics"], data["adjacency"], data["prior"], edges, data["signature"])
    return features, meta["truth"]
