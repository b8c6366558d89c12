"""Tiny synthetic cases: the root entity's CPU or latency channel jumps in the alert window."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from engine.tamo.dataset import LabelledCase
from engine.tamo.features import CHANNELS, PRIOR_SIGNALS, CaseFeatures
from engine.tamo.logs import SEMANTIC_DIM
from engine.tamo.model import TrainConfig

FAULT_CHANNEL = {"cpu": CHANNELS.index("metric:CpuUsageRate(%)"), "delay": CHANNELS.index("metric_edge_in")}


def synthetic_case(number: int, rng: np.random.Generator, n: int = 6) -> LabelledCase:
    entities = [f"svc-{i}" for i in range(n)]
    series = rng.normal(0.0, 0.3, size=(n, 16, len(CHANNELS))).astype(np.float32)
    root = int(rng.integers(n))
    fault = ("cpu", "delay")[number % 2]
    series[root, -3:, FAULT_CHANNEL[fault]] += 3.0
    adjacency = np.zeros((n, n), dtype=np.float32)
    for i in range(n - 1):
        adjacency[i, i + 1] = 1.0
    prior = np.abs(rng.normal(0.0, 0.2, size=(n, len(PRIOR_SIGNALS)))).astype(np.float32)
    features = CaseFeatures(f"syn-{number:02d}", "Synthetic", entities, series,
                            np.zeros((n, SEMANTIC_DIM), dtype=np.float32), adjacency, prior)
    return LabelledCase(features, entities[root], fault)


@pytest.fixture
def synthetic_cases() -> list[LabelledCase]:
    rng = np.random.default_rng(7)
    return [synthetic_case(i, rng) for i in range(16)]


@pytest.fixture
def quick_config() -> TrainConfig:
    return TrainConfig(seed=3, t1_steps=20, t2_steps=80, t3_steps=80, lr=1e-2, members=1)


def chain_topology(n: int = 6) -> nx.DiGraph:
    return nx.DiGraph([(f"svc-{i}", f"svc-{i + 1}") for i in range(n - 1)])
