"""TAMO trained from several seeds, their outputs averaged: what the agents, `tamo` and `eval rca` use.

One seed's T2 is a draw: out of fold on the 60 Nezha dev cases (k-fold), seeds 0, 1 and 2 alone rank the root first
in .950, .850 and .850 of them, the mean of their three scores in .967 (AC@3 .967 / .967 / .933 -> 1.0). Averaging
members trained alike from different seeds takes that variance out without choosing a seed.

A checkpoint holds every member's state (`members`); a file of one model (written before ensembles, or one fold
member of the out-of-fold cache) loads as an ensemble of one.
"""
from __future__ import annotations

import pickle
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from engine.tamo.dataset import LabelledCase
from engine.tamo.features import CaseFeatures
from engine.tamo.model import Inference, Progress, TamoModel, TrainConfig, model_from_state, save_state, train_model


@dataclass
class TamoEnsemble:
    members: list[TamoModel]

    @property
    def config(self) -> TrainConfig:
        return replace(self.members[0].config, members=len(self.members))

    @property
    def fault_types(self) -> list[str]:
        return self.members[0].fault_types

    @property
    def trained_on(self) -> list[str]:
        return self.members[0].trained_on

    @property
    def train_seconds(self) -> float:
        return sum(member.train_seconds for member in self.members)

    def infer(self, features: CaseFeatures) -> Inference:
        return average_inferences([member.infer(features) for member in self.members])

    def save(self, path: Path) -> Path:
        return save_state({"members": [member.state() for member in self.members]}, path)


def member_configs(config: TrainConfig) -> list[TrainConfig]:
    """One config per member: seeds seed, seed + 1, ..., each a single model."""
    return [replace(config, seed=config.seed + number, members=1) for number in range(max(config.members, 1))]


def train_ensemble(cases: list[LabelledCase], config: TrainConfig | None = None,
                   on_progress: Progress | None = None) -> TamoEnsemble:
    configs = member_configs(config or TrainConfig())
    return TamoEnsemble([train_model(cases, member, _member_progress(on_progress, number, len(configs)))
                         for number, member in enumerate(configs, start=1)])


def _member_progress(on_progress: Progress | None, number: int, count: int) -> Progress | None:
    if on_progress is None or count == 1:
        return on_progress
    return lambda done, total, what: on_progress(done, total, f"member {number}/{count}: {what}")


def load_checkpoint(path: Path) -> TamoEnsemble:
    """The ensemble a checkpoint file holds; a ValueError naming the file when it holds none or was written by other
    feature code."""
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        return TamoEnsemble([model_from_state(member, path) for member in state.get("members", [state])])
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a TAMO checkpoint ({type(exc).__name__}); expected a file written by "
                         "`rca-tui tamo train`") from exc


def average_inferences(inferences: Sequence[Inference]) -> Inference:
    """The members' mean root-cause score per entity, mean fault-type probabilities and mean causal weights (an
    edge a member leaves out, at or under uniform attention, counts as 0 there); seconds add up."""
    if len(inferences) == 1:
        return inferences[0]
    count = len(inferences)
    scores = _mean([dict(inference.ranking) for inference in inferences], count)
    edges = _mean([{(src, dst): weight for src, dst, weight in inference.causal_edges} for inference in inferences],
                  count)
    types = _mean([inference.fault_types for inference in inferences], count)
    limit = max(len(inference.causal_edges) for inference in inferences)
    return Inference(sorted(scores.items(), key=lambda pair: (-pair[1], pair[0])),
                     sorted(((src, dst, weight) for (src, dst), weight in edges.items()),
                            key=lambda edge: -edge[2])[:limit],
                     {kind: types.get(kind, 0.0) for kind in inferences[0].fault_types},
                     sum(inference.seconds for inference in inferences))


def _mean(tables: list[dict], count: int) -> dict:
    total: dict = defaultdict(float)
    for table in tables:
        for key, value in table.items():
            total[key] += value
    return {key: round(value / count, 4) for key, value in total.items()}
