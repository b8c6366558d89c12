"""The learned tracer (design 003, section 10.2): a per-step scorer trained with a listwise softmax loss (the
gold root-cause step against the other candidate steps of the same trajectory).

Model types: ``linear`` (a logistic ranker), ``mlp`` (one hidden layer), ``gnn`` (the mlp over each node's
features plus the attention-weighted mean of its in- and out-neighbours' features on the Soft-IDG).
Training uses torch; the fitted tracer is plain numpy arrays (save / load as ``.npz``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.attribution.node_features import FEATURE_GROUPS, feature_names, node_features
from engine.attribution.pipeline import Analysis

MODEL_TYPES = ("linear", "mlp", "gnn")


@dataclass(frozen=True)
class LearnedConfig:
    model_type: str = "mlp"
    groups: tuple[str, ...] = FEATURE_GROUPS
    hidden: int = 16
    epochs: int = 300
    learning_rate: float = 0.02
    weight_decay: float = 0.01
    seed: int = 0


@dataclass(frozen=True)
class LearnedTracer:
    config: LearnedConfig
    names: list[str]
    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]


def design_matrix(analysis: Analysis, config: LearnedConfig, with_ground_truth: bool) -> np.ndarray:
    features = node_features(analysis, config.groups, with_ground_truth)
    if config.model_type != "gnn":
        return features
    return np.concatenate([features, _neighbour_mean(analysis.graph.T, features),
                           _neighbour_mean(analysis.graph, features)], axis=1)


def fit(analyses: list[Analysis], config: LearnedConfig = LearnedConfig(), with_ground_truth: bool = False) -> LearnedTracer:
    """Train on labelled analyses (``trajectory.label.when`` is the target step)."""
    import torch

    if config.model_type not in MODEL_TYPES:
        raise ValueError(f"model type {config.model_type!r}: expected one of {', '.join(MODEL_TYPES)}")
    labelled = [a for a in analyses if a.trajectory.label and a.trajectory.label.when is not None]
    if not labelled:
        raise ValueError("no labelled trajectory to learn from")
    matrices = [design_matrix(a, config, with_ground_truth) for a in labelled]
    stacked = np.concatenate(matrices)
    mean, std = stacked.mean(0), stacked.std(0) + 1e-6
    inputs, masks, targets = _batch(labelled, [(m - mean) / std for m in matrices])
    torch.manual_seed(config.seed)
    network = _network(inputs.shape[-1], config)
    optimiser = torch.optim.Adam(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    for _ in range(config.epochs):
        optimiser.zero_grad()
        logits = network(inputs).squeeze(-1).masked_fill(~masks, -1e9)
        loss = torch.nn.functional.cross_entropy(logits, targets)
        loss.backward()
        optimiser.step()
    layers = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
              for m in network if isinstance(m, torch.nn.Linear)]
    names = feature_names(config.groups)
    if config.model_type == "gnn":
        names = names + [f"in_{n}" for n in names] + [f"out_{n}" for n in names]
    return LearnedTracer(config, names, mean, std, layers)


def score_steps(tracer: LearnedTracer, analysis: Analysis, with_ground_truth: bool = False) -> np.ndarray:
    """Log-scores per step (higher = more likely the root cause); non-candidates get -inf."""
    hidden = (design_matrix(analysis, tracer.config, with_ground_truth) - tracer.mean) / tracer.std
    for position, (weight, bias) in enumerate(tracer.layers):
        hidden = hidden @ weight + bias
        if position < len(tracer.layers) - 1:
            hidden = np.tanh(hidden)
    return np.where(analysis.candidates, hidden[:, 0], -np.inf)


def save(tracer: LearnedTracer, path: Path) -> None:
    arrays = {"mean": tracer.mean, "std": tracer.std}
    for position, (weight, bias) in enumerate(tracer.layers):
        arrays[f"w{position}"], arrays[f"b{position}"] = weight, bias
    config = {**tracer.config.__dict__, "groups": list(tracer.config.groups)}
    np.savez(path, config=json.dumps(config), names=json.dumps(tracer.names), **arrays)


def load(path: Path) -> LearnedTracer:
    with np.load(path) as data:
        config_data = json.loads(str(data["config"]))
        config = LearnedConfig(**{**config_data, "groups": tuple(config_data["groups"])})
        count = sum(1 for key in data.files if key.startswith("w"))
        layers = [(data[f"w{i}"], data[f"b{i}"]) for i in range(count)]
        return LearnedTracer(config, json.loads(str(data["names"])), data["mean"], data["std"], layers)


def _network(width: int, config: LearnedConfig):
    import torch

    if config.model_type == "linear":
        return torch.nn.Sequential(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(torch.nn.Linear(width, config.hidden), torch.nn.Tanh(), torch.nn.Linear(config.hidden, 1))


def _batch(analyses: list[Analysis], matrices: list[np.ndarray]):
    import torch

    longest = max(len(m) for m in matrices)
    inputs = np.zeros((len(matrices), longest, matrices[0].shape[1]), dtype=np.float32)
    masks = np.zeros((len(matrices), longest), dtype=bool)
    targets = np.zeros(len(matrices), dtype=np.int64)
    for row, (analysis, matrix) in enumerate(zip(analyses, matrices)):
        inputs[row, : len(matrix)] = matrix
        masks[row, : len(matrix)] = analysis.candidates
        targets[row] = analysis.trajectory.label.when
        masks[row, targets[row]] = True  # the gold step is always a candidate when learning
    return torch.from_numpy(inputs), torch.from_numpy(masks), torch.from_numpy(targets)


def _neighbour_mean(adjacency: np.ndarray, features: np.ndarray) -> np.ndarray:
    mass = adjacency.sum(axis=1, keepdims=True)
    return (adjacency @ features) / np.maximum(mass, 1e-12)
