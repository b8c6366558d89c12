"""Padding a list of cases into one batch of tensors (entities padded to the largest case, masked)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.tamo.features import MODALITY_OF_CHANNEL, PRIOR_SIGNALS, CaseFeatures
from engine.tamo.signatures import SIGNATURE_MODALITY, SIGNATURES

# which modality each statistical prior signal reads ("pattern" reads spans and the logs inside them)
PRIOR_MODALITY = {"pattern": "traces", "logs": "logs", "latency": "traces", "metrics": "metrics", "edges": "metrics",
                  "blame": "traces"}


@dataclass
class Batch:
    series: torch.Tensor  # [B, N, T, C]
    semantics: torch.Tensor  # [B, N, S]
    adjacency: torch.Tensor  # [B, N, N] caller -> callee
    mask: torch.Tensor  # [B, N] bool, True for a real entity
    prior: torch.Tensor  # [B, N, 2 * P]: statistical signals (log1p) and how far each stands out from the peers
    signature: torch.Tensor  # [B, N, 2 * S]: fault signatures (T3) and how far each stands out from the peers


def make_batch(cases: list[CaseFeatures], modalities: tuple[str, ...] | None = None) -> Batch:
    """Stack cases; channels of modalities not in `modalities` are zeroed (single-modality ablations)."""
    n_max = max(len(case.entities) for case in cases)
    steps, channels = cases[0].series.shape[1:]
    series = np.zeros((len(cases), n_max, steps, channels), dtype=np.float32)
    semantics = np.zeros((len(cases), n_max, cases[0].semantics.shape[1]), dtype=np.float32)
    adjacency = np.zeros((len(cases), n_max, n_max), dtype=np.float32)
    mask = np.zeros((len(cases), n_max), dtype=bool)
    prior = np.zeros((len(cases), n_max, 2 * cases[0].prior.shape[1]), dtype=np.float32)
    signature = np.zeros((len(cases), n_max, 2 * len(SIGNATURES)), dtype=np.float32)
    for b, case in enumerate(cases):
        n = len(case.entities)
        series[b, :n], semantics[b, :n], adjacency[b, :n, :n], mask[b, :n] = (
            case.series, case.semantics, case.adjacency, True)
        prior[b, :n] = np.concatenate([case.prior, _peer_standing(case.prior)], axis=1)
        signature[b, :n] = np.concatenate([case.signature, _peer_standing(case.signature)], axis=1)
    if modalities is not None:
        keep = np.array([m in modalities for m in MODALITY_OF_CHANNEL], dtype=np.float32)
        series *= keep
        if "logs" not in modalities:
            semantics[:] = 0.0
        keep_prior = np.array([PRIOR_MODALITY.get(name, "traces") in modalities for name in PRIOR_SIGNALS], dtype=np.float32)
        prior *= np.concatenate([keep_prior, keep_prior])
        keep_signature = np.array([m in modalities for m in SIGNATURE_MODALITY], dtype=np.float32)
        signature *= np.concatenate([keep_signature, keep_signature])
    return Batch(torch.from_numpy(series), torch.from_numpy(semantics), torch.from_numpy(adjacency),
                 torch.from_numpy(mask), torch.from_numpy(prior), torch.from_numpy(signature))


def _peer_standing(values: np.ndarray) -> np.ndarray:
    """[N, P] -> how far above the case's median each entity sits, in robust spreads, squashed to [0, 1)."""
    median = np.median(values, axis=0)
    spread = 1.4826 * np.median(np.abs(values - median), axis=0) + 0.1 * np.abs(median) + 0.2
    above = np.clip((values - median) / spread, 0.0, None)
    return above / (above + 3.0)
