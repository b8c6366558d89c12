"""The fault type at one entity, from which of its signals moved against its fault-free baseline and how much.

A small, explainable alternative to T3 (the graph classifier): one row of named features per entity, the
entity's fault signatures (engine.tamo.signatures: CPU, memory, latency and edge-latency ratios, log errors, new
and missing templates) and the change of its trace and log channels in the alert window (engine.tamo.features:
span count and latency, lost calls, log volume and errors, each a baseline-normalised z against the minutes
before the alert), then a multinomial logistic regression over those rows (standardised, L2, classes weighted
by their inverse frequency). Trained at the true root cause of labelled cases, applied where the ranking points.
Its explanation is each feature's share of the winning class's score: which signals made it that type.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.tamo.features import CHANNELS, CaseFeatures
from engine.tamo.signatures import SIGNATURES, WINDOW_START

WINDOW_CHANNELS = tuple(c for c in CHANNELS if c.startswith(("trace_", "log_")))
# what changed, not what a system records: "log_present" would only say which system a case comes from
SIGNATURE_COLUMNS = [k for k, name in enumerate(SIGNATURES) if name != "log_present"]
FEATURES = tuple(SIGNATURES[k] for k in SIGNATURE_COLUMNS) + tuple(f"window:{c}" for c in WINDOW_CHANNELS)
STEPS = 3000
LEARNING_RATE = 0.5


def entity_row(features: CaseFeatures, entity: str) -> np.ndarray:
    """[len(FEATURES)]: the entity's signatures, then its trace / log channels' window mean minus their mean
    before the alert."""
    i = features.entities.index(entity)
    series = features.series[i][:, [CHANNELS.index(c) for c in WINDOW_CHANNELS]]
    change = series[WINDOW_START:].mean(axis=0) - series[:WINDOW_START].mean(axis=0)
    return np.concatenate([features.signature[i][SIGNATURE_COLUMNS], change]).astype(np.float64)


@dataclass
class FaultKindClassifier:
    classes: list[str]
    mean: np.ndarray  # [F] standardisation of the training rows
    scale: np.ndarray  # [F]
    weights: np.ndarray  # [F, K]
    bias: np.ndarray  # [K]
    trained_on: list[str]  # case ids

    def probabilities(self, row: np.ndarray) -> dict[str, float]:
        return dict(zip(self.classes, _softmax(self._logits(row[None]))[0].round(4).tolist()))

    def predict(self, row: np.ndarray) -> str:
        return self.classes[int(np.argmax(self._logits(row[None])[0]))]

    def explain(self, row: np.ndarray, top: int = 3) -> list[dict]:
        """The signals that pushed the predicted class above the others most: each feature's weight margin times
        its change from "no change" (every feature reads 0 where the entity is at its baseline), so a signal
        that did not move explains nothing."""
        k = int(np.argmax(self._logits(row[None])[0]))
        margin = self.weights[:, k] - np.delete(self.weights, k, axis=1).mean(axis=1)
        contribution = margin * row / self.scale
        order = np.argsort(-contribution)[:top]
        return [{"feature": FEATURES[j], "value": round(float(row[j]), 3), "push": round(float(contribution[j]), 3)}
                for j in order if contribution[j] > 0]

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps({"features": list(FEATURES), "classes": self.classes, "mean": self.mean.tolist(),
                                    "scale": self.scale.tolist(), "weights": self.weights.tolist(),
                                    "bias": self.bias.tolist(), "trained_on": self.trained_on}, indent=1))
        return path

    def _standardised(self, rows: np.ndarray) -> np.ndarray:
        return (rows - self.mean) / self.scale

    def _logits(self, rows: np.ndarray) -> np.ndarray:
        return self._standardised(rows) @ self.weights + self.bias


def load_classifier(path: Path) -> FaultKindClassifier:
    try:
        stored = json.loads(Path(path).read_text())
        if stored["features"] != list(FEATURES):
            raise ValueError("its features are not this version's; retrain it")
        return FaultKindClassifier(stored["classes"], np.array(stored["mean"]), np.array(stored["scale"]),
                                   np.array(stored["weights"]), np.array(stored["bias"]), stored["trained_on"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a fault-type classifier ({exc})") from exc


def fit_classifier(rows: np.ndarray, labels: list[str], case_ids: list[str]) -> FaultKindClassifier:
    """Softmax regression by full-batch gradient descent (convex: the same rows give the same weights), with the
    usual default penalty (scikit-learn's C=1: an L2 of 1/n on the mean loss over standardised features)."""
    classes = sorted(set(labels))
    target = np.array([classes.index(label) for label in labels])
    counts = Counter(target.tolist())
    sample_weight = np.array([len(target) / (len(classes) * counts[t]) for t in target])
    mean, scale = rows.mean(axis=0), rows.std(axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    x = (rows - mean) / scale
    onehot = np.eye(len(classes))[target]
    weights, bias = np.zeros((x.shape[1], len(classes))), np.zeros(len(classes))
    for _ in range(STEPS):
        error = (_softmax(x @ weights + bias) - onehot) * sample_weight[:, None] / len(x)
        weights -= LEARNING_RATE * (x.T @ error + weights / len(x))
        bias -= LEARNING_RATE * error.sum(axis=0)
    return FaultKindClassifier(classes, mean, scale, weights, bias, sorted(case_ids))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
