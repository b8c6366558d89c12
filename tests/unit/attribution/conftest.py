"""A tiny randomly initialised causal LM (2-layer Llama, hidden 32) with a small BPE tokenizer, built in
milliseconds into a temp folder; and an isolated feature cache for every test."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny_llm import build_tiny_llama

from engine.attribution.adapters import from_steps
from engine.attribution.schema import Label, Trajectory

_CORPUS = [
    "Planner (thought): search the web for the population of Paris in 2020.",
    "Coder (action): import requests; print(requests.get(url).status_code)",
    "Terminal (observation): exitcode: 1 Traceback (most recent call last): error not found",
    "Verifier (message): the answer is 2148000. TERMINATE",
    "[0] [1] [2] [3] [4] [5] [6] [7] [8] [9] Task: Steps: step assume hypothetical 0123456789",
]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-llama")
    return build_tiny_llama(folder, _CORPUS)


@pytest.fixture(autouse=True)
def every_test_caches_in_its_tmp_path(isolated_cache) -> Path:
    return isolated_cache


@pytest.fixture(autouse=True)
def models_load_on_the_cpu(monkeypatch) -> None:
    """The reference computations here build CPU tensors; test_device.py sets a GPU where it compares one."""
    monkeypatch.setenv("RCA_TUI_DEVICE", "cpu")


def make_trajectory(contents: list[tuple[str, str, str]], when: int | None = None, who: str | None = None,
                    query: str = "What is the population of Paris?", trajectory_id: str = "t") -> Trajectory:
    """Steps from (agent, kind, content) triples."""
    steps = [{"agent": agent, "kind": kind, "content": content} for agent, kind, content in contents]
    label = Label(who=who, when=when) if when is not None else None
    return from_steps(steps, trajectory_id=trajectory_id, query=query, label=label)


@pytest.fixture
def small_trajectory() -> Trajectory:
    return make_trajectory([
        ("human", "query", "What is the population of Paris?"),
        ("Planner", "thought", "Plan: search the web for the population of Paris in 2020."),
        ("Coder", "action", "import requests; print(requests.get(url).status_code)"),
        ("Terminal", "observation", "exitcode: 1 Traceback (most recent call last): error not found"),
        ("Coder", "action", "Let us assume a hypothetical population of 2000000 instead."),
        ("Verifier", "message", "The answer is 2000000. TERMINATE"),
    ], when=4, who="Coder")
