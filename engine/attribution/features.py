"""White-box step features from one forward pass of the SLM (design 003, section 7), cached on disk.

For a trajectory of ``n`` steps:
* ``attention[i, j]`` (i < j): mean over step j's tokens of the attention mass they put on step i's span
  (last ``last_n_layers`` layers averaged, heads by mean or max);
* ``embeddings[t]``: mean hidden state over step t's tokens;
* ``nll_mean[t]`` / ``nll_max[t]``: how surprised the model is by step t's tokens;
* ``kept[t]``: whether step t was placed in the prompt at all (long trajectories are sampled).
"""
from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.attribution.layout import FeatureConfig, PromptLayout, build_layout
from engine.attribution.schema import Trajectory
from engine.attribution.slm import DEFAULT_MODEL, load_model, model_id
from engine.config import settings

FEATURE_VERSION = "1"


@dataclass(frozen=True)
class StepFeatures:
    kept: np.ndarray
    attention: np.ndarray
    embeddings: np.ndarray
    nll_mean: np.ndarray
    nll_max: np.ndarray
    token_counts: np.ndarray

    @property
    def n_steps(self) -> int:
        return len(self.kept)


def feature_key(trajectory: Trajectory, model_name: str, config: FeatureConfig) -> str:
    payload = "|".join([FEATURE_VERSION, model_id(model_name), trajectory.content_key(), config.key()])
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def extract_features(
    trajectory: Trajectory,
    model_name: str = DEFAULT_MODEL,
    config: FeatureConfig = FeatureConfig(),
    use_cache: bool = True,
) -> StepFeatures:
    """Features of ``trajectory``, from the disk cache when this model + content + config was seen before."""
    path = settings().feature_cache / f"{feature_key(trajectory, model_name, config)}.npz"
    if use_cache and path.is_file():
        return _load(path)
    model, tokenizer = load_model(model_name)
    features = compute_features(trajectory, model, tokenizer, config)
    if use_cache:
        _store(path, features)
    return features


def compute_features(trajectory: Trajectory, model: Any, tokenizer: Any, config: FeatureConfig) -> StepFeatures:
    import torch

    layout = build_layout(trajectory, tokenizer, config)
    with torch.inference_mode():
        output = model(
            torch.tensor([layout.token_ids]), output_attentions=True, output_hidden_states=True, use_cache=False
        )
    token_attention = _aggregate_attention(output.attentions, config).numpy()
    hidden = output.hidden_states[config.embed_layer][0].float().numpy()
    token_nll = _token_nll(output.logits[0], layout.token_ids)
    return _to_steps(layout, len(trajectory.steps), token_attention, hidden, token_nll)


def _aggregate_attention(attentions: tuple[Any, ...], config: FeatureConfig) -> Any:
    layers = attentions[-config.last_n_layers :]
    per_layer = [a[0].max(dim=0).values if config.head_agg == "max" else a[0].mean(dim=0) for a in layers]
    return sum(per_layer) / len(per_layer)


def _token_nll(logits: Any, token_ids: list[int]) -> np.ndarray:
    import torch

    log_probs = torch.log_softmax(logits[:-1].float(), dim=-1)
    targets = torch.tensor(token_ids[1:])
    nll = -log_probs.gather(1, targets[:, None])[:, 0]
    return np.concatenate([[0.0], nll.numpy()])


def _to_steps(
    layout: PromptLayout, n_steps: int, token_attention: np.ndarray, hidden: np.ndarray, token_nll: np.ndarray
) -> StepFeatures:
    n_kept = len(layout.kept)
    owner = layout.token_step
    membership = np.zeros((len(owner), n_kept))
    membership[np.nonzero(owner >= 0)[0], owner[owner >= 0]] = 1.0
    counts = membership.sum(axis=0)
    mean_over_queries = membership / np.maximum(counts, 1.0)
    kept_attention = (mean_over_queries.T @ token_attention @ membership).T  # [source, target]
    kept_index = np.array(layout.kept, dtype=np.int64)
    attention = np.zeros((n_steps, n_steps))
    attention[np.ix_(kept_index, kept_index)] = np.triu(kept_attention, k=1)
    embeddings = np.zeros((n_steps, hidden.shape[1]), dtype=np.float32)
    embeddings[kept_index] = (mean_over_queries.T @ hidden).astype(np.float32)
    nll_mean, nll_max, token_counts = np.zeros(n_steps), np.zeros(n_steps), np.zeros(n_steps)
    for position, step in enumerate(layout.kept):
        step_nll = token_nll[owner == position]
        if len(step_nll):
            nll_mean[step], nll_max[step] = step_nll.mean(), step_nll.max()
        token_counts[step] = counts[position]
    kept = np.zeros(n_steps, dtype=bool)
    kept[kept_index] = counts > 0
    return StepFeatures(kept, attention, embeddings, nll_mean, nll_max, token_counts)


def _store(path: Path, features: StepFeatures) -> None:
    """Write to a name private to this process, then rename: concurrent workers (local processes or Dask workers
    sharing the cache folder) never read a half-written file, and the last rename of identical bytes wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial.npz")
    try:
        np.savez(partial, **{f.name: getattr(features, f.name) for f in fields(features)})
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _load(path: Path) -> StepFeatures:
    with np.load(path) as data:
        return StepFeatures(**{f.name: data[f.name] for f in fields(StepFeatures)})
