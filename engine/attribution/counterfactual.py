"""Counterfactual white-box evidence: how much each step makes the run's final (wrong) claim likely.

The run failed, so its final claim is wrong; the step that put the wrong content in is the one whose removal
makes the model least sure of that claim. For a few tested steps (the unsupervised tracer's best candidates, at
most ``top_n``: the cost bound), one compact prompt is built:

    Task: <question>  /  [i] agent (kind): <first step_tokens tokens of step i>  (each tested step, in order)
    /  [k] agent (kind): <last claim_tokens tokens of the final claim>

and scored as it is and once with each tested step removed, all in one pass (each removal re-reads only the text
after the removed step, attending to the whole prompt before it). Per tested step:

* ``mask_delta``: mean NLL of the claim's tokens without the step minus with it (> 0: the step supports the claim);
* ``grad_input`` (only with ``gradient``, off by default): gradient × input of the claim's log-likelihood w.r.t.
  the step's token embeddings, summed over its tokens and embedding dimensions (> 0: the step pushes towards the
  claim); from one backward pass.

Untested steps get 0 and ``tested`` False. Results are cached on disk like the step features.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from engine.attribution.features import store_arrays
from engine.attribution.layout import clean_text, header_ids, step_label, step_line, token_ids
from engine.attribution.schema import Trajectory
from engine.attribution.slm import DEFAULT_MODEL, load_model, masked_attention, model_id
from engine.config import settings
from engine.transformers_compat import cache_argument

EFFECTS_VERSION = "2"  # 2: a space between a tested step's label and its text
_NOT_CLAIMS = ("query", "observation")


@dataclass(frozen=True)
class CounterfactualConfig:
    top_n: int = 3
    """Steps tested per trajectory (0 = off). Each adds its re-read (the text after it) to the one pass."""
    step_tokens: int = 24
    claim_tokens: int = 24
    max_query_chars: int = 120
    gradient: bool = False
    """Also gradient × input (one more forward and backward pass over the unmasked prompt; the backward pass alone
    was about 0.45 CPU-seconds). Off by
    default: on the Who&When dev split (5-fold × 3 seeds) the tracers did as well or better without it (learned
    Hand-Crafted when .161 → .172, Algorithm-Generated .386 → .397; rule tracer Hand-Crafted who .483 → .586,
    Algorithm-Generated when .191 → .238 but who .444 → .429)."""

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class ClaimEffects:
    tested: np.ndarray
    mask_delta: np.ndarray
    grad_input: np.ndarray

    @staticmethod
    def none(n_steps: int) -> "ClaimEffects":
        return ClaimEffects(np.zeros(n_steps, dtype=bool), np.zeros(n_steps), np.zeros(n_steps))


def claim_step(trajectory: Trajectory) -> int | None:
    """The final claim: the last agent step with more than a sign-off in it (None when there is none)."""
    for step in reversed(trajectory.steps):
        if step.kind not in _NOT_CLAIMS and len(step.content.replace("TERMINATE", "").strip()) > 20:
            return step.index
    return None


def claim_effects(trajectory: Trajectory, steps: list[int], model_name: str = DEFAULT_MODEL,
                  config: CounterfactualConfig = CounterfactualConfig(), use_cache: bool = True) -> ClaimEffects:
    """Effects of removing each of ``steps`` (those before the claim) on the final claim; cached on disk."""
    claim = claim_step(trajectory)
    tested = sorted({s for s in steps if claim is not None and s < claim})
    if not tested:
        return ClaimEffects.none(len(trajectory.steps))
    payload = "|".join([EFFECTS_VERSION, model_id(model_name), trajectory.content_key(), config.key(),
                        ",".join(map(str, tested))])
    path = settings().feature_cache / f"cf-{hashlib.sha256(payload.encode()).hexdigest()[:32]}.npz"
    if use_cache and path.is_file():
        with np.load(path) as data:
            return ClaimEffects(**{f.name: data[f.name] for f in fields(ClaimEffects)})
    model, tokenizer = load_model(model_name)
    effects = compute_effects(trajectory, tested, claim, model, tokenizer, config)
    if use_cache:
        store_arrays(path, {f.name: getattr(effects, f.name) for f in fields(effects)})
    return effects


def compute_effects(trajectory: Trajectory, tested: list[int], claim: int, model: Any, tokenizer: Any,
                    config: CounterfactualConfig) -> ClaimEffects:
    """The prompt without step ``s`` shares everything before ``s`` with the whole prompt, so each removal only
    re-reads the text after ``s``; the whole prompt and every re-read go side by side through one pass (and,
    for gradient × input, the whole prompt through one more with its backward pass)."""
    header = header_ids(trajectory, tokenizer, config.max_query_chars)
    newline = token_ids(tokenizer, "\n")
    parts = [token_ids(tokenizer, step_line(trajectory.steps[i]))[: config.step_tokens] + newline for i in tested]
    claim_prefix = token_ids(tokenizer, step_label(trajectory.steps[claim]))
    claim_ids = token_ids(tokenizer, " " + clean_text(trajectory.steps[claim].content))[-config.claim_tokens:]
    sequence = header + [t for part in parts for t in part] + claim_prefix + claim_ids
    starts = np.cumsum([len(header)] + [len(part) for part in parts])
    full_nll, *without = _claim_nlls(model, sequence, [(int(start), int(start) + len(part))
                                                       for start, part in zip(starts, parts)], len(claim_ids))
    n = len(trajectory.steps)
    effects = ClaimEffects(np.zeros(n, dtype=bool), np.zeros(n), np.zeros(n))
    effects.tested[tested] = True
    effects.mask_delta[tested] = np.array(without) - full_nll
    if config.gradient:
        grad_input = _gradient_times_input(model, sequence, len(header), len(claim_ids))
        effects.grad_input[tested] = [float(grad_input[start: start + len(part)].sum())
                                      for start, part in zip(starts, parts)]
    return effects


def _gradient_times_input(model: Any, sequence: list[int], fixed: int, n_claim: int) -> np.ndarray:
    """Gradient × input of the claim's log-likelihood (its last ``n_claim`` tokens) per token of ``sequence``.
    Its first ``fixed`` tokens (the task header: no tested step can change what the model makes of them) are read
    without gradient, so the backward pass skips them (0 there)."""
    import torch
    from transformers import DynamicCache

    ids = torch.tensor([sequence], device=model.device)
    cache = DynamicCache()
    with torch.no_grad():
        model(ids[:, :fixed], use_cache=True, logits_to_keep=1, **{cache_argument(model): cache})
    embeddings = model.get_input_embeddings()(ids[:, fixed:]).detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(inputs_embeds=embeddings, use_cache=True, logits_to_keep=n_claim + 1,
                       **{cache_argument(model): cache}).logits[0, :-1]
        (grad,) = torch.autograd.grad(_claim_log_likelihood(logits, sequence[-n_claim:]), embeddings)
    return np.concatenate([np.zeros(fixed), (grad * embeddings).sum(-1)[0].detach().cpu().numpy()])


def _claim_nlls(model: Any, sequence: list[int], removed: list[tuple[int, int]], n_claim: int) -> list[float]:
    """Mean NLL of the claim (the last ``n_claim`` tokens) in ``sequence``, then in ``sequence`` without each
    ``[start, end)`` span, from one pass: the whole prompt and the re-reads (the text after each span, at its
    shortened positions) laid side by side (:func:`_side_by_side_mask`)."""
    import torch

    reads = [(0, sequence)] + [(start, sequence[end:]) for start, end in removed]
    ends = np.cumsum([len(tokens) for _, tokens in reads])
    positions = torch.cat([torch.arange(start, start + len(tokens)) for start, tokens in reads])
    claim_rows = torch.cat([torch.arange(end - n_claim - 1, end - 1) for end in ends])
    with torch.inference_mode(), masked_attention(model):
        read_ids = torch.tensor([[t for _, tokens in reads for t in tokens]], device=model.device)
        logits = model(read_ids, position_ids=positions[None].to(model.device),
                       attention_mask=_side_by_side_mask(reads).to(model.device)[None, None], use_cache=False,
                       logits_to_keep=claim_rows.to(model.device)).logits[0]
        return [-_claim_log_likelihood(claim_logits, sequence[-n_claim:]).item() / n_claim
                for claim_logits in logits.split(n_claim)]


def _side_by_side_mask(reads: list[tuple[int, list[int]]]) -> Any:
    """Additive attention mask over reads laid side by side, the first the whole prompt: each ``(start, tokens)``
    sees the whole prompt before ``start`` and itself causally, nothing of the other re-reads."""
    import torch

    blocked = torch.finfo(torch.float32).min
    total = sum(len(tokens) for _, tokens in reads)
    mask = torch.full((total, total), blocked)
    row = 0
    for start, tokens in reads:
        rows = slice(row, row + len(tokens))
        mask[rows, :start] = 0.0
        mask[rows, rows] = torch.full((len(tokens), len(tokens)), blocked).triu(1)
        row += len(tokens)
    return mask


def _claim_log_likelihood(logits: Any, claim_ids: list[int]) -> Any:
    """Summed log-likelihood of ``claim_ids`` from the logits at the positions before each of them."""
    import torch

    log_probs = torch.log_softmax(logits.float(), dim=-1)
    return log_probs[torch.arange(len(claim_ids)), torch.tensor(claim_ids, device=logits.device)].sum()


def claim_support(effects: ClaimEffects) -> np.ndarray:
    """Per step in [0, 1]: how strongly removing it weakens the final claim, relative to the other tested steps
    (the mean of the min-max scaled mask delta and, when computed, gradient × input); 0 for untested steps."""
    tested = effects.tested
    if tested.sum() < 2:
        return np.zeros(len(tested))
    signals = [effects.mask_delta] + ([effects.grad_input] if np.any(effects.grad_input[tested]) else [])
    scaled = [np.where(tested, (s - s[tested].min()) / max(np.ptp(s[tested]), 1e-12), 0.0) for s in signals]
    return np.mean(scaled, axis=0)
