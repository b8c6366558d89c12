"""White-box step features from the SLM's forward passes over the trajectory (design 003, section 7), cached
on disk. Every step is encoded in its own chunk (:func:`~engine.attribution.layout.build_chunks`).

For a trajectory of ``n`` steps:
* ``attention[i, j]`` (i < j): mean over step j's tokens of the attention mass they put on step i's span, in the
  pass that encodes step j (so i is in j's window: its own chunk or the context tail before it; last
  ``last_n_layers`` layers averaged, heads by mean or max);
* ``embeddings[t]``: mean hidden state over step t's tokens;
* ``nll_mean[t]`` / ``nll_max[t]``: how surprised the model is by step t's tokens;
* ``kept[t]``: whether step t was encoded at all (always, unless the one-pass layout sampled it away).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.attribution.layout import Chunk, FeatureConfig, build_chunks
from engine.attribution.schema import Trajectory
from engine.attribution.slm import DEFAULT_MODEL, attention_weights_from, load_model, model_id
from engine.config import settings
from engine.parallel import write_atomically

FEATURE_VERSION = "2"
_NLL_ROWS = 32


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

    n_steps = len(trajectory.steps)
    collected = _Collector(n_steps, model.config.hidden_size)
    for chunk in build_chunks(trajectory, tokenizer, config):
        scored = chunk.first_own_token()
        with torch.inference_mode(), attention_weights_from(model, config.last_n_layers):
            output = model(torch.tensor([chunk.token_ids], device=model.device), output_attentions=True,
                           output_hidden_states=True, use_cache=False,
                           logits_to_keep=len(chunk.token_ids) - scored + 1)
        collected.add(chunk, _aggregate_attention(output.attentions, config).cpu().numpy(),
                      output.hidden_states[config.embed_layer][0].float().cpu().numpy(),
                      _token_nll(output.logits[0], chunk.token_ids, scored))
    return collected.features()


def _aggregate_attention(layers: tuple[Any, ...], config: FeatureConfig) -> Any:
    """Mean over ``layers`` (the last ``last_n_layers``, the only ones whose weights the pass returns)."""
    per_layer = [a[0].max(dim=0).values if config.head_agg == "max" else a[0].mean(dim=0) for a in layers]
    return sum(per_layer) / len(per_layer)


def _token_nll(logits: Any, token_ids: list[int], first: int) -> np.ndarray:
    """Each token's NLL from ``first`` on, 0 before it (the header and context tail: never read); ``logits`` are
    those of the positions from ``first - 1`` on (each predicts the next token), so the model's output layer, a
    fifth of a 640-token pass, skips the tokens nobody reads. The log-softmax runs over ``_NLL_ROWS`` rows at a time
    (the same numbers: it is per row), so its output stays in the CPU cache (half the time of one 600-row call)."""
    import torch

    targets = torch.tensor(token_ids[first:], device=logits.device)
    nll = torch.cat([-torch.log_softmax(rows.float(), dim=-1).gather(1, row_targets[:, None])[:, 0]
                     for rows, row_targets in zip(logits[:-1].split(_NLL_ROWS), targets.split(_NLL_ROWS))])
    return np.concatenate([np.zeros(first), nll.cpu().numpy()])


class _Collector:
    """Step features gathered chunk by chunk: each step's from the chunk that owns it."""

    def __init__(self, n_steps: int, width: int) -> None:
        self.attention = np.zeros((n_steps, n_steps))
        self.embeddings = np.zeros((n_steps, width), dtype=np.float32)
        self.nll_mean, self.nll_max, self.token_counts = np.zeros(n_steps), np.zeros(n_steps), np.zeros(n_steps)
        self.kept = np.zeros(n_steps, dtype=bool)

    def add(self, chunk: Chunk, token_attention: np.ndarray, hidden: np.ndarray, token_nll: np.ndarray) -> None:
        owner = chunk.token_step
        visible = np.unique(owner[owner >= 0])
        membership = (owner[:, None] == visible[None, :]).astype(float)  # [token, visible step]
        counts = membership.sum(axis=0)
        mean_over_queries = membership / np.maximum(counts, 1.0)
        step_attention = mean_over_queries.T @ token_attention @ membership  # [target, source]
        own = np.isin(visible, chunk.own)
        targets, sources = visible[own], visible
        earlier = sources[:, None] < targets[None, :]
        self.attention[np.ix_(sources, targets)] = step_attention[own].T * earlier
        self.embeddings[targets] = (mean_over_queries.T @ hidden)[own].astype(np.float32)
        for step in targets:
            step_nll = token_nll[owner == step]
            self.nll_mean[step], self.nll_max[step] = step_nll.mean(), step_nll.max()
        self.token_counts[targets] = counts[own]
        self.kept[targets] = True

    def features(self) -> StepFeatures:
        return StepFeatures(self.kept, self.attention, self.embeddings, self.nll_mean, self.nll_max,
                            self.token_counts)


def _store(path: Path, features: StepFeatures) -> None:
    store_arrays(path, {f.name: getattr(features, f.name) for f in fields(features)})


def store_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Written atomically (see engine.parallel.write_atomically): workers sharing the cache never collide."""
    write_atomically(path, lambda tmp: np.savez(tmp, **arrays), ".partial.npz")


def _load(path: Path) -> StepFeatures:
    with np.load(path) as data:
        return StepFeatures(**{f.name: data[f.name] for f in fields(StepFeatures)})
