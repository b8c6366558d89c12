"""The learned tracer (design 003, section 10.2), factored as who × when-given-who:

* an **agent scorer** ranks the trajectory's agents from what each did (:func:`agent_features`), trained with a
  softmax over the agents of each trajectory;
* a **step scorer** ranks the candidate steps of one agent (:func:`node_features`), trained with a softmax over
  the labelled agent's steps.

A step's score is ``log P(agent) + log P(step | agent)``, so the ranking covers all steps and ``who_mode="joint"``
names the best agent and its best step. Model types for the step scorer: ``linear`` (logistic ranker), ``mlp``
(one hidden layer), ``gnn`` (the mlp over each node's features plus the attention-weighted mean of its in- and
out-neighbours' on the Soft-IDG). No feature holds an agent's name, so nothing can learn "agent X usually fails".
Training uses torch; a fitted tracer is plain numpy arrays (save / load as ``.npz``).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

from engine.attribution.analysis import Analysis, StepScorer
from engine.attribution.node_features import (
    DEFAULT_GROUPS,
    agent_feature_names,
    agent_features,
    feature_names,
    node_features,
)

MODEL_TYPES = ("linear", "mlp", "gnn")


@dataclass(frozen=True)
class LearnedConfig:
    model_type: str = "linear"
    groups: tuple[str, ...] = DEFAULT_GROUPS
    hidden: int = 16
    epochs: int = 200
    learning_rate: float = 0.02
    weight_decay: float = 1.0
    """Strong L2: with a few dozen labelled trajectories, weaker decay over-fits (5-fold CV on the dev split)."""
    seed: int = 0
    factorised: bool = True
    """Default chosen on Algorithm-Generated (5-fold, seed 0: factorised .667 / .397, step-level .603 / .381).
    True: who × when-given-who (an agent scorer, then a step scorer within the agent); False: one step scorer
    ranked over all candidate steps of the trajectory (who = the agent with the most step mass), so nothing is
    fitted at the agent level, where the majority culprit's habits (most turns, opens the run) are learned."""


@dataclass(frozen=True)
class Scorer:
    """A standardise-then-feedforward scorer: rows in, one score per row out."""

    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        hidden = (rows - self.mean) / self.std
        for position, (weight, bias) in enumerate(self.layers):
            hidden = hidden @ weight + bias
            if position < len(self.layers) - 1:
                hidden = np.tanh(hidden)
        return hidden[:, 0]


@dataclass(frozen=True)
class LearnedTracer:
    config: LearnedConfig
    step_names: list[str]
    agent_names: list[str]
    step_scorer: Scorer
    agent_scorer: Scorer | None
    """None for a step-level (not factorised) tracer."""


def step_matrix(analysis: Analysis, config: LearnedConfig, with_ground_truth: bool) -> np.ndarray:
    features = node_features(analysis, config.groups, with_ground_truth)
    if config.model_type != "gnn":
        return features
    return np.concatenate([features, _neighbour_mean(analysis.graph.T, features),
                           _neighbour_mean(analysis.graph, features)], axis=1)


def fit(analyses: list[Analysis], config: LearnedConfig = LearnedConfig(), with_ground_truth: bool = False) -> LearnedTracer:
    """Train both scorers on labelled analyses (``trajectory.label``: when, and who)."""
    if config.model_type not in MODEL_TYPES:
        raise ValueError(f"model type {config.model_type!r}: expected one of {', '.join(MODEL_TYPES)}")
    labelled = [a for a in analyses if a.trajectory.label and a.trajectory.label.when is not None]
    if not labelled:
        raise ValueError("no labelled trajectory to learn from")
    if not config.factorised:
        step_lists = [(step_matrix(a, config, with_ground_truth), _with_label(a.candidates, a.trajectory.label.when),
                       a.trajectory.label.when) for a in labelled]
        return LearnedTracer(config, _step_names(config), [], fit_listwise(step_lists, config), None)
    agent_lists, step_lists = [], []
    for analysis in labelled:
        who = labelled_agent(analysis)
        agents = analysis.trajectory.agents
        speaking = _agents_with_candidates(analysis)
        speaking[agents.index(who)] = True
        agent_lists.append((agent_features(analysis, config.groups, with_ground_truth), speaking, agents.index(who)))
        own_steps = _with_label(np.array([s.agent == who for s in analysis.trajectory.steps]) & analysis.candidates,
                                analysis.trajectory.label.when)
        step_lists.append((step_matrix(analysis, config, with_ground_truth), own_steps, analysis.trajectory.label.when))
    agent_config = LearnedConfig(**{**asdict(config), "model_type": "linear"})
    return LearnedTracer(config, _step_names(config), agent_feature_names(config.groups),
                         fit_listwise(step_lists, config), fit_listwise(agent_lists, agent_config))


def _step_names(config: LearnedConfig) -> list[str]:
    names = feature_names(config.groups)
    if config.model_type == "gnn":
        names = names + [f"in_{n}" for n in names] + [f"out_{n}" for n in names]
    return names


def score_steps(tracer: LearnedTracer, analysis: Analysis, with_ground_truth: bool = False) -> np.ndarray:
    """``log P(agent) + log P(step | agent)`` per step (factorised), else ``log P(step)`` over all candidates;
    non-candidates get -inf."""
    agents = analysis.trajectory.agents
    step_scores = tracer.step_scorer(step_matrix(analysis, tracer.config, with_ground_truth))
    if tracer.agent_scorer is None:
        return _masked_log_softmax(step_scores, analysis.candidates)
    agent_log_p = _log_softmax(tracer.agent_scorer(agent_features(analysis, tracer.config.groups, with_ground_truth)))
    owner = np.array([agents.index(s.agent) for s in analysis.trajectory.steps])
    joint = np.full(len(owner), -np.inf)
    for agent_index in range(len(agents)):
        own = (owner == agent_index) & analysis.candidates
        if own.any():
            joint[own] = agent_log_p[agent_index] + _log_softmax(step_scores[own])
    return joint


def step_scorer(tracer: LearnedTracer, with_ground_truth: bool = False) -> StepScorer:
    """The tracer as the pipeline's scorer; ``with_ground_truth``: it may read ``trajectory.ground_truth``."""
    return partial(score_steps, tracer, with_ground_truth=with_ground_truth)


def labelled_agent(analysis: Analysis) -> str:
    """The labelled agent when it is one of the trajectory's speakers, else the speaker of the labelled step."""
    label = analysis.trajectory.label
    by_lower = {agent.lower(): agent for agent in analysis.trajectory.agents}
    return by_lower.get((label.who or "").lower(), analysis.trajectory.steps[label.when].agent)


def fit_listwise(lists: list[tuple[np.ndarray, np.ndarray, int]], config: LearnedConfig) -> Scorer:
    """Fit a scorer so that, within every list (rows, candidate mask, target row), the target ranks first."""
    import torch

    stacked = np.concatenate([rows for rows, _, _ in lists])
    spread = stacked.std(0)
    mean, std = stacked.mean(0), np.where(spread > 1e-6, spread, 1.0)  # a feature constant in training stays unscaled:
    # divided by ~0, a value it never had in training would outweigh everything its near-zero weight says
    inputs, masks, targets = _pad([((rows - mean) / std, mask, target) for rows, mask, target in lists])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is ~30x faster than two fighting over a busy CPU
    try:
        torch.manual_seed(config.seed)
        network = _network(inputs.shape[-1], config)
        optimiser = torch.optim.Adam(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        for _ in range(config.epochs):
            optimiser.zero_grad()
            logits = network(inputs).squeeze(-1).masked_fill(~masks, -1e9)
            torch.nn.functional.cross_entropy(logits, targets).backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    layers = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
              for m in network if isinstance(m, torch.nn.Linear)]
    return Scorer(mean, std, layers)


def save(tracer: LearnedTracer, path: Path) -> None:
    arrays = {}
    for prefix, scorer in (("step", tracer.step_scorer), ("agent", tracer.agent_scorer)):
        if scorer is None:
            continue
        arrays[f"{prefix}_mean"], arrays[f"{prefix}_std"] = scorer.mean, scorer.std
        for position, (weight, bias) in enumerate(scorer.layers):
            arrays[f"{prefix}_w{position}"], arrays[f"{prefix}_b{position}"] = weight, bias
    config = {**asdict(tracer.config), "groups": list(tracer.config.groups)}
    names = {"step": tracer.step_names, "agent": tracer.agent_names}
    np.savez(path, config=json.dumps(config), names=json.dumps(names), **arrays)


def load(path: Path) -> LearnedTracer:
    with np.load(path) as data:
        config_data = json.loads(str(data["config"]))
        config = LearnedConfig(**{**config_data, "groups": tuple(config_data["groups"])})
        names = json.loads(str(data["names"]))
        scorers = {prefix: _load_scorer(data, prefix) for prefix in ("step", "agent")}
    expected = {"step": _step_names(config),
                "agent": agent_feature_names(config.groups) if config.factorised else []}
    if names != expected:
        differing = sorted(set(expected["step"]) ^ set(names["step"]) | set(expected["agent"]) ^ set(names["agent"]))
        raise ValueError(f"{path}: learned tracer was trained on other features than this version computes "
                         f"(differing: {', '.join(differing) or 'order'}); retrain it")
    return LearnedTracer(config, names["step"], names["agent"], scorers["step"], scorers["agent"])


def _load_scorer(data, prefix: str) -> Scorer | None:
    count = sum(1 for key in data.files if key.startswith(f"{prefix}_w"))
    if not count:
        return None
    layers = [(data[f"{prefix}_w{i}"], data[f"{prefix}_b{i}"]) for i in range(count)]
    return Scorer(data[f"{prefix}_mean"], data[f"{prefix}_std"], layers)


def _network(width: int, config: LearnedConfig):
    import torch

    if config.model_type == "linear":
        return torch.nn.Sequential(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(torch.nn.Linear(width, config.hidden), torch.nn.Tanh(), torch.nn.Linear(config.hidden, 1))


def _pad(lists: list[tuple[np.ndarray, np.ndarray, int]]):
    import torch

    longest = max(len(rows) for rows, _, _ in lists)
    inputs = np.zeros((len(lists), longest, lists[0][0].shape[1]), dtype=np.float32)
    masks = np.zeros((len(lists), longest), dtype=bool)
    for row, (rows, mask, _) in enumerate(lists):
        inputs[row, : len(rows)] = rows
        masks[row, : len(rows)] = mask
    targets = np.array([target for _, _, target in lists], dtype=np.int64)
    return torch.from_numpy(inputs), torch.from_numpy(masks), torch.from_numpy(targets)


def _agents_with_candidates(analysis: Analysis) -> np.ndarray:
    agents = analysis.trajectory.agents
    speaking = np.zeros(len(agents), dtype=bool)
    for index in np.nonzero(analysis.candidates)[0]:
        speaking[agents.index(analysis.trajectory.steps[index].agent)] = True
    return speaking


def _with_label(candidates: np.ndarray, when: int) -> np.ndarray:
    mask = candidates.copy()
    mask[when] = True  # the labelled step is always a candidate when learning
    return mask


def _masked_log_softmax(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    result = np.full(len(values), -np.inf)
    result[mask] = _log_softmax(values[mask])
    return result


def _log_softmax(values: np.ndarray) -> np.ndarray:
    shifted = values - values.max()
    return shifted - np.log(np.exp(shifted).sum())


def _neighbour_mean(adjacency: np.ndarray, features: np.ndarray) -> np.ndarray:
    mass = adjacency.sum(axis=1, keepdims=True)
    return (adjacency @ features) / np.maximum(mass, 1e-12)
