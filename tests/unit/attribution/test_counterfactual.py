from __future__ import annotations

import numpy as np
import pytest

from engine.attribution import counterfactual as counterfactual_module
from engine.attribution.counterfactual import (
    ClaimEffects,
    CounterfactualConfig,
    claim_effects,
    claim_step,
    claim_support,
)
from engine.attribution.features import extract_features
from engine.attribution.pipeline import AttributionConfig, analyse, analyse_with_effects


def test_the_claim_is_the_last_agent_step_that_says_something(small_trajectory):
    assert claim_step(small_trajectory) == 5


def test_only_steps_before_the_claim_are_tested_and_removing_one_changes_the_claim_likelihood(
        tiny_model_dir, small_trajectory):
    effects = claim_effects(small_trajectory, [1, 4, 5], str(tiny_model_dir))
    assert list(np.nonzero(effects.tested)[0]) == [1, 4]  # the claim itself is never masked
    assert np.all(effects.mask_delta[[1, 4]] != 0) and np.all(effects.grad_input[[1, 4]] != 0)
    assert not effects.mask_delta[[0, 2, 3, 5]].any()


def test_effects_come_back_from_disk_without_the_model(tiny_model_dir, small_trajectory, monkeypatch):
    first = claim_effects(small_trajectory, [1, 4], str(tiny_model_dir))
    monkeypatch.setattr(counterfactual_module, "load_model", lambda name: pytest.fail("model loaded on a cache hit"))
    again = claim_effects(small_trajectory, [1, 4], str(tiny_model_dir))
    assert np.array_equal(first.mask_delta, again.mask_delta)


def test_support_ranks_the_tested_steps_by_how_much_the_claim_needs_them():
    effects = ClaimEffects(np.array([False, True, True, True]), np.array([0.0, 0.1, 0.9, 0.5]), np.zeros(4))
    assert list(claim_support(effects)) == [0.0, 0.0, 1.0, 0.5]


def test_counterfactual_support_reorders_the_rule_tracers_best_candidates(tiny_model_dir, small_trajectory):
    config = AttributionConfig(counterfactual=CounterfactualConfig(top_n=3))
    features = extract_features(small_trajectory, str(tiny_model_dir), config.features)
    plain = analyse(small_trajectory, features, config)
    tested = analyse_with_effects(small_trajectory, features, str(tiny_model_dir), config)
    assert tested.effects.tested.sum() >= 2
    candidates = plain.candidates
    changed = np.where(candidates, tested.rule_score, 0.0) - np.where(candidates, plain.rule_score, 0.0)
    assert np.allclose(changed[~tested.effects.tested], 0.0)
    assert changed[tested.effects.tested].max() > 0
