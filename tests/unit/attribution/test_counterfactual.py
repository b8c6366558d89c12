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
from tests.bench import claim_jumps as jumps_module
from tests.bench.claim_jumps import claim_jumps
from tests.unit.attribution.conftest import make_trajectory


def test_the_claim_is_the_last_agent_step_that_says_something(small_trajectory):
    assert claim_step(small_trajectory) == 5


def test_only_steps_before_the_claim_are_tested_and_removing_one_changes_the_claim_likelihood(
        tiny_model_dir, small_trajectory):
    effects = claim_effects(small_trajectory, [1, 4, 5], str(tiny_model_dir))
    assert list(np.nonzero(effects.tested)[0]) == [1, 4]  # the claim itself is never masked
    assert np.all(effects.mask_delta[[1, 4]] != 0) and not effects.grad_input.any()  # no gradient by default
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


def _compact_prompt(tokenizer, trajectory, tested: list[int], claim: int) -> tuple[list[int], dict, list[int], int]:
    """The counterfactual prompt rebuilt from the layout helpers: header, each tested step's tokens, the claim
    (label and text) and how many of its last tokens are scored."""
    from engine.attribution.layout import clean_text, header_ids, step_label, step_line, token_ids

    config = CounterfactualConfig()
    header = header_ids(trajectory, tokenizer, config.max_query_chars)
    parts = {i: token_ids(tokenizer, step_line(trajectory.steps[i]))[: config.step_tokens]
             + token_ids(tokenizer, "\n") for i in tested}
    claim_ids = token_ids(tokenizer, " " + clean_text(trajectory.steps[claim].content))[-config.claim_tokens:]
    return header, parts, token_ids(tokenizer, step_label(trajectory.steps[claim])) + claim_ids, len(claim_ids)


def _claim_log_likelihood(model, sequence: list[int], n_claim: int, embeddings=None):
    """The claim's summed log-likelihood from one plain pass over the whole ``sequence`` (no cache)."""
    import torch

    logits = (model(inputs_embeds=embeddings, use_cache=False) if embeddings is not None
              else model(torch.tensor([sequence]), use_cache=False)).logits[0]
    log_probs = torch.log_softmax(logits, dim=-1)
    positions = torch.arange(len(sequence) - n_claim, len(sequence))
    return log_probs[positions - 1, torch.tensor(sequence)[positions]].sum()


def test_removal_scored_on_the_cached_prefix_equals_rescoring_the_whole_shortened_prompt(
        tiny_model_dir, small_trajectory):
    import torch

    from engine.attribution.slm import load_model

    model, tokenizer = load_model(str(tiny_model_dir))
    header, parts, claim, n_claim = _compact_prompt(tokenizer, small_trajectory, [1, 2, 4], 5)

    def claim_nll(kept: list[int]) -> float:
        with torch.inference_mode():
            sequence = header + [t for s in kept for t in parts[s]] + claim
            return -_claim_log_likelihood(model, sequence, n_claim).item() / n_claim

    effects = claim_effects(small_trajectory, [1, 2, 4], str(tiny_model_dir), use_cache=False)
    expected = [claim_nll([s for s in (1, 2, 4) if s != left_out]) - claim_nll([1, 2, 4]) for left_out in (1, 2, 4)]
    assert np.allclose(effects.mask_delta[[1, 2, 4]], expected, atol=1e-5)


def test_gradient_times_input_with_the_header_read_without_gradient_equals_one_plain_backward_pass(
        tiny_model_dir, small_trajectory):
    import torch

    from engine.attribution.slm import load_model

    model, tokenizer = load_model(str(tiny_model_dir))
    header, parts, claim, n_claim = _compact_prompt(tokenizer, small_trajectory, [1, 2, 4], 5)
    sequence = header + [t for part in parts.values() for t in part] + claim
    embeddings = model.get_input_embeddings()(torch.tensor([sequence])).detach().requires_grad_(True)
    _claim_log_likelihood(model, sequence, n_claim, embeddings).backward()
    per_token = (embeddings.grad * embeddings).sum(-1)[0].detach().numpy()
    starts = np.cumsum([len(header)] + [len(part) for part in parts.values()])
    expected = [per_token[start: start + len(part)].sum() for start, part in zip(starts, parts.values())]

    effects = claim_effects(small_trajectory, [1, 2, 4], str(tiny_model_dir), CounterfactualConfig(gradient=True),
                            use_cache=False)
    assert np.allclose(effects.grad_input[[1, 2, 4]], expected, atol=1e-5)
    assert np.abs(expected).min() > 1e-4  # a real gradient, not zeros on both sides


def test_the_claim_read_after_each_prefix_of_the_acting_steps_equals_rescoring_each_prefix_alone(
        tiny_model_dir, small_trajectory):
    import torch

    from engine.attribution.slm import load_model

    model, tokenizer = load_model(str(tiny_model_dir))
    # the fixture's only message is the claim: no acting step before it, so nothing is read
    assert not claim_jumps(small_trajectory, str(tiny_model_dir), use_cache=False).any()
    messages = make_trajectory([(s.agent, "message" if s.kind != "query" else "query", s.content)
                                for s in small_trajectory.steps])
    header, parts, claim, n_claim = _compact_prompt(tokenizer, messages, [1, 2, 3, 4], 5)

    def claim_nll(read: list[int]) -> float:
        with torch.inference_mode():
            sequence = header + [t for s in read for t in parts[s]] + claim
            return -_claim_log_likelihood(model, sequence, n_claim).item() / n_claim

    jumps = claim_jumps(messages, str(tiny_model_dir), use_cache=False)
    expected = [claim_nll([1, 2, 3, 4][:k]) - claim_nll([1, 2, 3, 4][: k + 1]) for k in range(4)]
    assert np.allclose(jumps[[1, 2, 3, 4]], expected, atol=1e-5)
    assert jumps[0] == 0 and jumps[5] == 0  # the question and the claim are never read as a prefix step


def test_claim_jumps_come_back_from_disk_without_the_model(tiny_model_dir, monkeypatch):
    trajectory = make_trajectory([("human", "query", "What is the population of Paris?"),
                                  ("Searcher", "message", "Paris had 2102650 inhabitants in 2020."),
                                  ("Checker", "message", "The answer is 2102650. TERMINATE")])
    first = claim_jumps(trajectory, str(tiny_model_dir))
    monkeypatch.setattr(jumps_module, "load_model", lambda name: pytest.fail("model loaded on a cache hit"))
    assert np.array_equal(claim_jumps(trajectory, str(tiny_model_dir)), first) and first[1] != 0
