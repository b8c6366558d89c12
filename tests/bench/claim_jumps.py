"""The claim's likelihood jump per acting step, a white-box signal only the session-10 bench variants read
(:mod:`tests.bench.white_box_variants`): the final claim's mean NLL after each prefix of the acting steps, all
prefixes side by side in one pass on the counterfactual test's model and prompt pieces, cached on disk."""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from engine.attribution.counterfactual import (
    CounterfactualConfig, _claim_log_likelihood, _side_by_side_mask, claim_step,
)
from engine.attribution.features import store_arrays
from engine.attribution.layout import clean_text, header_ids, step_label, step_line, token_ids
from engine.attribution.schema import Trajectory
from engine.attribution.slm import DEFAULT_MODEL, load_model, masked_attention, model_id
from engine.config import settings

JUMP_VERSION = "1"
_ACTING = "message"


def claim_jumps(trajectory: Trajectory, model_name: str = DEFAULT_MODEL,
                config: CounterfactualConfig = CounterfactualConfig(), use_cache: bool = True) -> np.ndarray:
    """Per acting step before the final claim (an agent's own turn, kind ``message``): how much less surprising
    the claim becomes once the step is read, i.e. the claim's mean NLL after the acting steps before it minus
    after them and it (> 0: the step made the claim likely); 0 elsewhere. The prompt holds the question, the acting
    steps before the claim (each cut at ``step_tokens``) and the claim; every prefix is scored in one pass.
    Cached on disk."""
    claim = claim_step(trajectory)
    acting = [s.index for s in trajectory.steps if s.kind == _ACTING and claim is not None and s.index < claim]
    jumps = np.zeros(len(trajectory.steps))
    if not acting:
        return jumps
    payload = "|".join([JUMP_VERSION, model_id(model_name), trajectory.content_key(), config.key()])
    path = settings().feature_cache / f"jump-{hashlib.sha256(payload.encode()).hexdigest()[:32]}.npz"
    if use_cache and path.is_file():
        with np.load(path) as data:
            return data["jumps"]
    model, tokenizer = load_model(model_name)
    jumps[acting] = _prefix_drops(trajectory, acting, claim, model, tokenizer, config)
    if use_cache:
        store_arrays(path, {"jumps": jumps})
    return jumps


def _prefix_drops(trajectory: Trajectory, acting: list[int], claim: int, model: Any, tokenizer: Any,
                  config: CounterfactualConfig) -> np.ndarray:
    """The claim read after each prefix of the acting steps, side by side in one pass (each read sees the prompt
    up to its prefix): the drop of its mean NLL at each step."""
    import torch

    header = header_ids(trajectory, tokenizer, config.max_query_chars)
    newline = token_ids(tokenizer, "\n")
    parts = [token_ids(tokenizer, step_line(trajectory.steps[i]))[: config.step_tokens] + newline for i in acting]
    claim_ids = token_ids(tokenizer, " " + clean_text(trajectory.steps[claim].content))[-config.claim_tokens:]
    tail = token_ids(tokenizer, step_label(trajectory.steps[claim])) + claim_ids
    prompt = header + [t for part in parts for t in part]
    boundaries = np.cumsum([len(header)] + [len(part) for part in parts])  # before each step, then after the last
    reads = [(0, prompt)] + [(int(b), tail) for b in boundaries]
    ends = np.cumsum([len(tokens) for _, tokens in reads])[1:]
    positions = torch.cat([torch.arange(start, start + len(tokens)) for start, tokens in reads])
    claim_rows = torch.cat([torch.arange(end - len(claim_ids) - 1, end - 1) for end in ends])
    with torch.inference_mode(), masked_attention(model):
        logits = model(torch.tensor([[t for _, tokens in reads for t in tokens]]), position_ids=positions[None],
                       attention_mask=_side_by_side_mask(reads)[None, None], use_cache=False,
                       logits_to_keep=claim_rows).logits[0]
        nll = np.array([-_claim_log_likelihood(rows, claim_ids).item() / len(claim_ids)
                        for rows in logits.split(len(claim_ids))])
    return nll[:-1] - nll[1:]
