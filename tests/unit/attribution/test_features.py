from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.attribution import features as features_module
from engine.attribution.features import extract_features
from engine.attribution.layout import FeatureConfig, build_chunks, sample_steps
from engine.attribution.slm import ModelNotFoundError, load_model, resolve_model_dir
from tests.unit.attribution.conftest import make_trajectory


def test_every_token_is_owned_by_the_step_whose_text_it_spells(tiny_model_dir, small_trajectory):
    _, tokenizer = load_model(str(tiny_model_dir))
    [layout] = build_chunks(small_trajectory, tokenizer, FeatureConfig(max_tokens=2048))
    assert layout.own == tuple(range(6))
    for step in layout.own:
        ids = [t for t, owner in zip(layout.token_ids, layout.token_step) if owner == step]
        assert tokenizer.decode(ids).startswith(f"[{step}] {small_trajectory.steps[step].agent}")
    header = [t for t, owner in zip(layout.token_ids, layout.token_step) if owner == -1]
    assert "Task:" in tokenizer.decode(header)


def test_one_pass_layout_samples_a_long_trajectory_and_keeps_the_last_step(tiny_model_dir):
    _, tokenizer = load_model(str(tiny_model_dir))
    long = make_trajectory([("Agent" + str(i % 3), "message", "search the web " * 40) for i in range(120)])
    [layout] = build_chunks(long, tokenizer, FeatureConfig(max_tokens=256, min_step_tokens=12, chunked=False))
    assert len(layout.token_ids) <= 256
    assert layout.own[0] == 0 and layout.own[-1] == 119 and len(layout.own) < 120
    assert set(np.unique(layout.token_step[layout.token_step >= 0])) == set(layout.own)


def test_chunked_layout_encodes_every_step_once_with_the_steps_before_it_as_context(tiny_model_dir):
    _, tokenizer = load_model(str(tiny_model_dir))
    long = make_trajectory([("Agent" + str(i % 3), "message", f"step {i} search the web " * 40) for i in range(120)])
    config = FeatureConfig(max_tokens=256, min_step_tokens=12, context_tail_tokens=30, chunked=True)
    chunks = build_chunks(long, tokenizer, config)
    assert len(chunks) > 1 and all(len(c.token_ids) <= 256 for c in chunks)
    assert [step for c in chunks for step in c.own] == list(range(120))
    for chunk in chunks[1:]:
        tail = [s for s in np.unique(chunk.token_step[chunk.token_step >= 0]) if s not in chunk.own]
        assert tail and max(tail) == chunk.own[0] - 1  # the steps just before, read as context
        assert "Task:" in tokenizer.decode(chunk.token_ids[: int(np.argmax(chunk.token_step >= 0))])


def test_chunked_features_cover_every_step_and_link_across_chunks(tiny_model_dir):
    long = make_trajectory([("Agent" + str(i % 3), "message", f"step {i} search the web " * 40) for i in range(40)])
    config = FeatureConfig(max_tokens=200, min_step_tokens=12, context_tail_tokens=30, last_n_layers=2, chunked=True)
    result = extract_features(long, str(tiny_model_dir), config)
    assert result.kept.all() and (result.nll_mean > 0).all() and np.allclose(np.tril(result.attention), 0.0)
    assert (result.attention[:, 1:].sum(axis=0) > 0).all()  # the first step of each chunk reads its context tail
    one_pass = extract_features(long, str(tiny_model_dir), replace(config, chunked=False))
    assert not one_pass.kept.all()


@pytest.mark.parametrize("mode,expected", [
    ("head", (0, 1, 2, 9)), ("tail", (6, 7, 8, 9)), ("head_tail", (0, 1, 8, 9)), ("uniform", (0, 3, 6, 9))])
def test_history_sampling(mode, expected):
    assert sample_steps(10, 4, mode) == expected


def test_agents_first_drops_tool_output_before_agent_steps():
    kinds = ("query", "action", "observation", "action", "observation", "observation", "thought", "action")
    kept = sample_steps(8, 5, "agents_first", kinds)
    assert len(kept) == 5 and not {0, 1, 3, 6, 7} - set(kept)
    only_agents = sample_steps(8, 3, "agents_first", kinds)  # fewer slots than agent steps: head and tail of them
    assert only_agents == (0, 1, 7)


def test_features_shapes_and_causal_attention(tiny_model_dir, small_trajectory):
    result = extract_features(small_trajectory, str(tiny_model_dir), FeatureConfig(last_n_layers=2))
    n = len(small_trajectory.steps)
    assert result.kept.all() and result.attention.shape == (n, n) and result.embeddings.shape == (n, 32)
    assert np.allclose(np.tril(result.attention), 0.0)
    assert (result.attention[:, 1:].sum(axis=0) > 0).all() and (result.nll_mean > 0).all()


def test_second_extraction_comes_from_disk_without_running_the_model(tiny_model_dir, small_trajectory, monkeypatch):
    first = extract_features(small_trajectory, str(tiny_model_dir))
    monkeypatch.setattr(features_module, "load_model", lambda name: pytest.fail("model loaded on a cache hit"))
    again = extract_features(small_trajectory, str(tiny_model_dir))
    assert np.array_equal(first.attention, again.attention) and np.array_equal(first.embeddings, again.embeddings)
    changed = make_trajectory([(s.agent, s.kind, s.content + "!") for s in small_trajectory.steps])
    with pytest.raises(BaseException, match="model loaded on a cache hit"):
        extract_features(changed, str(tiny_model_dir))


def test_unknown_model_name_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        resolve_model_dir(str(tmp_path / "no-such-model"))


def test_a_one_step_trajectory_still_gets_an_answer(tiny_model_dir):
    from engine.attribution.pipeline import trace

    result = trace(make_trajectory([("Solo", "message", "I did everything myself.")]), str(tiny_model_dir))
    assert (result.who, result.when, result.evidence_path) == ("Solo", 0, [0])


def test_sdpa_layers_change_nothing_and_only_the_read_layers_return_attention_weights(tiny_model_dir):
    import torch

    from engine.attribution.slm import attention_weights_from

    model, _ = load_model(str(tiny_model_dir))
    ids = torch.tensor([[5, 9, 13, 2, 7, 11, 3]])
    n_layers = len(model.base_model.layers)
    with torch.inference_mode():
        with attention_weights_from(model, n_layers):  # every layer eager: the reference
            reference = model(ids, output_attentions=True, use_cache=False)
        with attention_weights_from(model, 1):
            read = model(ids, output_attentions=True, use_cache=False)
    assert n_layers > 1 and len(read.attentions) == 1
    assert torch.allclose(read.attentions[0], reference.attentions[-1], atol=1e-6)
    assert torch.allclose(read.logits, reference.logits, atol=1e-5)


def test_surprisal_from_the_logits_of_the_read_tokens_only_equals_that_of_a_full_pass(tiny_model_dir):
    import torch

    from engine.attribution.features import compute_features

    model, tokenizer = load_model(str(tiny_model_dir))
    long = make_trajectory([("Planner", "thought", f"step {i}: search the web for Paris") for i in range(12)])
    config = FeatureConfig(max_tokens=96, min_step_tokens=8, chunked=True, context_tail_tokens=12)
    chunks = build_chunks(long, tokenizer, config)
    features = compute_features(long, model, tokenizer, config)
    assert len(chunks) > 1 and all(chunk.first_own_token() > 0 for chunk in chunks)
    for chunk in chunks:
        with torch.inference_mode():
            logits = model(torch.tensor([chunk.token_ids]), use_cache=False).logits[0]
        nll = -torch.log_softmax(logits[:-1], dim=-1).gather(1, torch.tensor(chunk.token_ids[1:])[:, None])[:, 0]
        token_nll = np.concatenate([[0.0], nll.numpy()])
        for step in chunk.own:
            assert np.isclose(features.nll_mean[step], token_nll[chunk.token_step == step].mean(), atol=1e-5)
            assert np.isclose(features.nll_max[step], token_nll[chunk.token_step == step].max(), atol=1e-5)
