"""The fault type at one entity, from which of its signals moved against its fault-free baseline and how much.

A small, explainable alternative to T3 (the graph classifier): one row of named features per entity, the
entity's fault signatures (engine.tamo.signatures: CPU, memory, latency and edge-latency ratios, log errors, new
and missing templates), the change of its trace and log channels in the alert window (engine.tamo.features:
span count and latency, lost calls, log volume and errors, each a baseline-normalised z against the minutes
before the alert) and the group evidence (which kind of evidence moved: resource, network, code; see
GROUP_EVIDENCE), then multinomial logistic regressions over those rows (standardised, L2, each row of a given
weight, e.g. less for synthetic ones, and each class of the same total weight) in two stages: the group of types
(resource, code, network) from the group evidence alone, then the type within its group from the signals that
group's types differ in (each row also once without each kind of telemetry it shows).
Trained at the true root cause of labelled cases, applied where the ranking points. Its explanation is each
feature's share of the winning group's and type's scores: which signals made it that type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.tamo.features import CHANNELS, CaseFeatures
from engine.tamo.signatures import EDGE_SIGNATURES, SIGNATURES, WINDOW_START

WINDOW_CHANNELS = tuple(c for c in CHANNELS if c.startswith(("trace_", "log_")))
# what changed, not what a system records: "log_present" would only say which system a case comes from
SIGNATURE_COLUMNS = [k for k, name in enumerate(SIGNATURES) if name != "log_present"]
# Which kind of evidence moved at the entity, per group of fault types: the largest of its channels' window means
# (sign, channel: -1 where a drop is the evidence), each a robust z against the entity's own fault-free baseline,
# squashed (engine.tamo.features). Standardised effect sizes, not a system's raw magnitudes, so a group stage learnt
# on one system reads another's the same way, and a kind of telemetry a system does not record drops out of a max
# rather than reading "no change". Resource: the container's own CPU and memory (not its node's CPU, which any busy
# neighbour on the node raises, also when this container is not the one at fault); network: the time of the
# calls into the entity (its span time, edge latencies) and its lost calls, less the slowness the entity itself
# reports serving (WIRE_DISCOUNT: a delay on the wire slows the calls into it, not its own serving; a CPU fault
# slows both); code: errors and new templates at the entity, or requests cut short (fewer log lines, spans,
# successes).
GROUP_EVIDENCE = {
    "resource": ((1, "metric:CpuUsageRate(%)"), (1, "metric:MemoryUsageRate(%)")),
    "network": ((1, "trace_own_time"), (1, "metric_edge_in"), (1, "trace_edge_in"), (1, "trace_lost_calls")),
    "code": ((1, "log_errors"), (1, "log_new_templates"), (-1, "log_count"), (-1, "trace_count"),
             (-1, "metric:PodSuccessRate(%)")),
}
WIRE_DISCOUNT = ("network", "metric:PodServerLatencyP90(s)")  # group, channel whose rise (not fall) it subtracts
# A resource fault (a CPU burner, a competing process, a leak) holds the container's CPU or memory until it is
# removed, so its rise still stands at the window's last minute; a code fault's CPU burst (handling a wave of
# exceptions, the injection attaching to the process) fades. These groups' evidence is read at that last minute
# (per channel the latest window minute that holds a value: a live incident's telemetry may not have reached the
# window's end yet, and an empty minute reads 0), the others' over the whole window.
HELD_TO_THE_END = ("resource",)
FEATURES = (tuple(SIGNATURES[k] for k in SIGNATURE_COLUMNS) + tuple(f"window:{c}" for c in WINDOW_CHANNELS)
            + tuple(f"evidence:{group}" for group in GROUP_EVIDENCE))
EVIDENCE_COLUMNS = tuple(j for j, name in enumerate(FEATURES) if name.startswith("evidence:"))
SIGNAL_COLUMNS = tuple(j for j in range(len(FEATURES)) if j not in EVIDENCE_COLUMNS)
STEPS = 3000
LEARNING_RATE = 0.5


def entity_row(features: CaseFeatures, entity: str) -> np.ndarray:
    """[len(FEATURES)]: the entity's signatures, its trace / log channels' window mean minus their mean before
    the alert, then its group evidence."""
    i = features.entities.index(entity)
    series = features.series[i][:, [CHANNELS.index(c) for c in WINDOW_CHANNELS]]
    change = series[WINDOW_START:].mean(axis=0) - series[:WINDOW_START].mean(axis=0)
    return np.concatenate([features.signature[i][SIGNATURE_COLUMNS], change,
                           group_evidence(features.series[i])]).astype(np.float64)


def group_evidence(series: np.ndarray) -> np.ndarray:
    """[len(GROUP_EVIDENCE)] from one entity's [T, C] series: per group, the largest of its signed channels'
    means over the alert window (HELD_TO_THE_END's: their latest recorded values); the network group's less the rise
    of WIRE_DISCOUNT's channel."""
    window, last_minute = series[WINDOW_START:].mean(axis=0), latest_recorded(series[WINDOW_START:])
    evidence = {group: max(sign * (last_minute if group in HELD_TO_THE_END else window)[CHANNELS.index(channel)]
                           for sign, channel in channels)
                for group, channels in GROUP_EVIDENCE.items()}
    group, own_serving = WIRE_DISCOUNT
    evidence[group] -= max(window[CHANNELS.index(own_serving)], 0.0)
    return np.array(list(evidence.values()))


def latest_recorded(window: np.ndarray) -> np.ndarray:
    """[C] from a [T, C] window: per channel, its value at the latest minute that holds one (not 0), else 0."""
    recorded = window != 0
    latest = window.shape[0] - 1 - np.argmax(recorded[::-1], axis=0)
    return np.where(recorded.any(axis=0), window[latest, np.arange(window.shape[1])], 0.0)


# The fault types told apart in two stages: first which group (what kind of thing broke) from the group evidence
# alone, then the type within it from the signals that group's types differ in (fixed here, not searched on the
# scored cases). The CPU faults differ in how the container and its node spend CPU and memory; the code faults in
# what the code itself logs, serves, calls and computes, where the node's and the memory's levels only add noise.
# A type of no group here is a group of its own.
GROUPS = {"resource": ("cpu_contention", "cpu_consumed", "memory_leak"), "code": ("exception", "return"),
          "network": ("network_delay", "network_loss")}
CODE_SIGNALS = ("ratio:CpuUsageRate(%)", "ratio:SyscallRead", "ratio:SyscallWrite", "ratio:PodServerLatencyP90(s)",
                "ratio:PodWorkload(Ops)", "ratio:PodSuccessRate(%)", "edge_in_latency", "wire_delay")
# What a competing process adds besides the CPU it takes, and what a leak adds: memory in the container (a competitor
# its own few MiB whatever the service's size: +7.9 MiB or more at all 12 real contentions of both systems, +1 to +6
# at 6 of the 7 consumed ones, the seventh's baseline still holding the fault before it) and, for the competitor, CPU
# on the node. Not the container's own CPU: a CPU burnt by the service and one taken by a competitor both hold the
# container near its limit (75 to 100 % in every full minute of all 19 real CPU faults), so how far that CPU rose says
# how far below its limit the service usually runs, not which fault (real consumed ratios .6 to 3.6, contentions .3 to
# 3.7; only the synthetic ones differ there). Nor its millicores, which say how big the service is (a Java service
# burns a hundred times a Go one's).
RESOURCE_SIGNALS = ("ratio:MemoryUsageRate(%)", "ratio:NodeCpuUsageRate(%)", "delta:MemoryUsage(Mi)",
                    "delta:NodeCpuUsageRate(%)")
STAGE_COLUMNS = {
    "resource": tuple(j for j, name in enumerate(FEATURES) if name in RESOURCE_SIGNALS),
    "code": tuple(j for j, name in enumerate(FEATURES) if name.startswith(("log_", "window:")) or name in CODE_SIGNALS),
}  # a group without its own: every SIGNAL_COLUMNS


# The FEATURES each kind of telemetry feeds. A system may not record one (Train-Ticket has no edge-latency table,
# Online Boutique almost no logs, some windows no traces), and then its features read 0, "no change"; so every
# training row also trains once without each kind it shows, and a type learnt where it shows in that telemetry
# (a network delay in Online Boutique's edge latencies) is still known where the telemetry is missing.
TELEMETRY_FEATURES = {
    "edge latency": tuple(j for j, name in enumerate(FEATURES) if name in EDGE_SIGNATURES),
    "logs": tuple(j for j, name in enumerate(FEATURES) if name.startswith(("log_", "window:log_"))),
    "traces": tuple(j for j, name in enumerate(FEATURES) if name.startswith("window:trace_")),
}


def with_telemetry_missing(rows: np.ndarray, labels: list[str],
                           weights: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The rows, then per row and per kind of telemetry it shows (a non-zero feature) a copy with that kind's
    features 0, of the same label and weight."""
    copies, copy_labels, copy_weights = [], [], []
    for row, label, weight in zip(rows, labels, weights):
        for columns in map(list, TELEMETRY_FEATURES.values()):
            if np.any(row[columns] != 0):
                copies.append(row.copy())
                copies[-1][columns] = 0.0
                copy_labels.append(label)
                copy_weights.append(weight)
    if not copies:
        return rows, list(labels), weights
    return (np.concatenate([rows, np.stack(copies)]), list(labels) + copy_labels,
            np.concatenate([weights, copy_weights]))


def group_of(fault_type: str) -> str:
    return next((group for group, members in GROUPS.items() if fault_type in members), fault_type)


@dataclass
class SoftmaxStage:
    """One softmax regression over some of the FEATURES columns."""
    classes: list[str]
    columns: np.ndarray  # [F'] indices into FEATURES
    mean: np.ndarray  # [F'] standardisation of the training rows
    scale: np.ndarray  # [F']
    weights: np.ndarray  # [F', K]
    bias: np.ndarray  # [K]

    def probabilities(self, row: np.ndarray) -> np.ndarray:
        return _softmax(self._logits(row))[0]

    def explain(self, row: np.ndarray) -> list[dict]:
        """Each feature's weight margin for the winning class times its change from "no change" (every feature
        reads 0 where the entity is at its baseline), so a signal that did not move explains nothing; nothing
        when the stage has one class (it decided nothing)."""
        if len(self.classes) < 2:
            return []
        k = int(np.argmax(self._logits(row)[0]))
        margin = self.weights[:, k] - np.delete(self.weights, k, axis=1).mean(axis=1)
        values = row[self.columns]
        contribution = margin * values / self.scale
        return [{"feature": FEATURES[j], "value": round(float(v), 3), "push": round(float(c), 3)}
                for j, v, c in zip(self.columns, values, contribution) if c > 0]

    def as_dict(self) -> dict:
        return {"classes": self.classes, "columns": self.columns.tolist(), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "weights": self.weights.tolist(), "bias": self.bias.tolist()}

    @classmethod
    def from_dict(cls, stored: dict) -> SoftmaxStage:
        return cls(stored["classes"], np.array(stored["columns"], dtype=int), np.array(stored["mean"]),
                   np.array(stored["scale"]), np.array(stored["weights"]), np.array(stored["bias"]))

    def _logits(self, row: np.ndarray) -> np.ndarray:
        return ((row[self.columns] - self.mean) / self.scale)[None] @ self.weights + self.bias


@dataclass
class FaultKindClassifier:
    groups: SoftmaxStage  # which group
    within: dict[str, SoftmaxStage]  # group -> which of its types
    trained_on: list[str]  # case ids

    @property
    def classes(self) -> list[str]:
        return sorted(kind for stage in self.within.values() for kind in stage.classes)

    def probabilities(self, row: np.ndarray) -> dict[str, float]:
        """P(type) = P(its group) * P(type | its group)."""
        out = {}
        for group, p_group in zip(self.groups.classes, self.groups.probabilities(row)):
            stage = self.within[group]
            out.update({kind: p_group * p for kind, p in zip(stage.classes, stage.probabilities(row))})
        return {kind: round(float(out[kind]), 4) for kind in self.classes}

    def predict(self, row: np.ndarray) -> str:
        stage = self.within[self._group(row)]
        return stage.classes[int(np.argmax(stage.probabilities(row)))]

    def explain(self, row: np.ndarray, top: int = 3) -> list[dict]:
        """The signals that pushed the predicted group above the others, and the type above its group's others,
        most first (a signal that pushed in both stages: the sum of its pushes)."""
        merged: dict[str, dict] = {}
        for push in self.groups.explain(row) + self.within[self._group(row)].explain(row):
            seen = merged.setdefault(push["feature"], {**push, "push": 0.0})
            seen["push"] = round(seen["push"] + push["push"], 3)
        return sorted(merged.values(), key=lambda push: -push["push"])[:top]

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps({"features": list(FEATURES), "groups": self.groups.as_dict(),
                                    "within": {g: stage.as_dict() for g, stage in self.within.items()},
                                    "trained_on": self.trained_on}, indent=1))
        return path

    def _group(self, row: np.ndarray) -> str:
        return self.groups.classes[int(np.argmax(self.groups.probabilities(row)))]


def load_classifier(path: Path) -> FaultKindClassifier:
    try:
        stored = json.loads(Path(path).read_text())
        if stored["features"] != list(FEATURES):
            raise ValueError("its features are not this version's; retrain it")
        return FaultKindClassifier(SoftmaxStage.from_dict(stored["groups"]),
                                   {g: SoftmaxStage.from_dict(stage) for g, stage in stored["within"].items()},
                                   stored["trained_on"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a fault-type classifier ({exc})") from exc


def fit_classifier(rows: np.ndarray, labels: list[str], case_ids: list[str],
                   weights: np.ndarray | None = None) -> FaultKindClassifier:
    """The group stage over the group evidence (no copies: each evidence is already the largest of its kinds of
    telemetry), then one stage per group over its STAGE_COLUMNS (SIGNAL_COLUMNS for a group without its own),
    each trained on the rows and their copies without each kind of telemetry. `weights`: each row's weight
    (default 1; e.g. less for synthetic rows)."""
    weights = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=np.float64)
    evidence = np.array(EVIDENCE_COLUMNS, dtype=int)
    group_stage = fit_stage(rows[:, evidence], [group_of(label) for label in labels], evidence, weights)
    rows, labels, weights = with_telemetry_missing(rows, labels, weights)
    groups = [group_of(label) for label in labels]
    within = {}
    for group in sorted(set(groups)):
        members = [k for k, g in enumerate(groups) if g == group]
        columns = np.array(STAGE_COLUMNS.get(group, SIGNAL_COLUMNS), dtype=int)
        within[group] = fit_stage(rows[members][:, columns], [labels[k] for k in members], columns,
                                  weights[members])
    return FaultKindClassifier(group_stage, within, sorted(case_ids))


def fit_stage(rows: np.ndarray, labels: list[str], columns: np.ndarray, row_weights: np.ndarray) -> SoftmaxStage:
    """Softmax regression by full-batch gradient descent (convex: the same rows give the same weights), with the
    usual default penalty (scikit-learn's C=1 with sample weights: an L2 of 1 against the rows' weighted loss
    summed, over standardised features). Each class weighs the same in all (its rows' weights scaled by the
    inverse of their sum); with unit weights, n rows weigh n."""
    classes = sorted(set(labels))
    target = np.array([classes.index(label) for label in labels])
    mass = np.bincount(target, weights=row_weights, minlength=len(classes))
    total = row_weights.sum()
    sample_weight = row_weights * total / (len(classes) * mass[target])
    mean = np.average(rows, axis=0, weights=row_weights)  # a row of little weight barely moves the scales either
    scale = np.sqrt(np.average((rows - mean) ** 2, axis=0, weights=row_weights))
    scale = np.where(scale > 1e-6, scale, 1.0)
    x = (rows - mean) / scale
    onehot = np.eye(len(classes))[target]
    weights, bias = np.zeros((x.shape[1], len(classes))), np.zeros(len(classes))
    for _ in range(STEPS):
        error = (_softmax(x @ weights + bias) - onehot) * sample_weight[:, None] / total
        weights -= LEARNING_RATE * (x.T @ error + weights / total)
        bias -= LEARNING_RATE * error.sum(axis=0)
    return SoftmaxStage(classes, columns, mean, scale, weights, bias)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
