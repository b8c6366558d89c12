"""MASC-style unsupervised step anomaly score (design 003, section 8).

``s(t) = alpha * ||x̂_t - x_t||² + beta * (1 - cos(x_t, p))`` where
* ``x̂_t`` reconstructs step t's embedding from the steps it read: the attention-weighted mean of their
  embeddings (next-step reconstruction from history);
* ``p`` is a prototype of normal steps: the mean embedding of the trajectory's steps.
Both parts are z-scored within the trajectory before they are mixed, so alpha and beta are comparable.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnomalyScores:
    reconstruction: np.ndarray
    prototype: np.ndarray
    total: np.ndarray


def anomaly_scores(
    embeddings: np.ndarray,
    attention: np.ndarray,
    kept: np.ndarray,
    alpha: float = 1.0,
    beta: float = 1.0,
) -> AnomalyScores:
    """Per-step anomaly; ``alpha=0`` ablates reconstruction, ``beta=0`` ablates the prototype."""
    unit = _unit_rows(embeddings)
    reference = _unit_rows(unit[kept].mean(0)[None])[0]
    reconstruction = np.where(kept, _reconstruction_error(unit, attention, kept), 0.0)
    distance = np.where(kept, 1.0 - unit @ reference, 0.0)
    total = alpha * zscore(reconstruction, kept) + beta * zscore(distance, kept)
    return AnomalyScores(reconstruction, distance, np.where(kept, total, total[kept].min(initial=0.0)))


def zscore(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    selected = values[mask]
    if len(selected) < 2 or selected.std() < 1e-9:
        return np.zeros_like(values, dtype=float)
    return (values - selected.mean()) / selected.std()


def _reconstruction_error(unit: np.ndarray, attention: np.ndarray, kept: np.ndarray) -> np.ndarray:
    weights = attention * kept[:, None]
    mass = weights.sum(axis=0)
    reconstructed = (weights.T @ unit) / np.maximum(mass, 1e-12)[:, None]
    error = ((reconstructed - unit) ** 2).sum(axis=1)
    first = np.argmax(kept) if kept.any() else 0
    error[mass <= 0] = 0.0
    error[first] = 0.0
    return error


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)
