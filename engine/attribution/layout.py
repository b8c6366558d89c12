"""Fitting a trajectory into the model's window: per-step character and token caps, and which tokens belong to
which step.

Two ways to read a trajectory (``FeatureConfig.chunked``):

* **chunked** (default): every step is encoded. When all steps fit one window at ``min_step_tokens`` each, that
  is one pass; otherwise the steps are packed into consecutive chunks, each = the task header + the tail of the
  preceding steps (``context_tail_tokens``, as context only) + its own steps, each within ``max_tokens``.
* one pass: a single window; when the steps do not fit, some are sampled away (``history_sample``) and have no
  features at all (``kept`` false). On the Who&When dev split this dropped 9 of the 29 labelled Hand-Crafted steps.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.attribution.schema import Step, Trajectory

HISTORY_SAMPLES = ("head", "tail", "head_tail", "uniform", "agents_first")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class FeatureConfig:
    max_tokens: int = 640
    """Tokens in one forward pass (about 1.3 s for the 135M model on 2 idle CPU cores)."""
    max_chars_per_step: int = 400
    min_step_tokens: int = 40
    """Every step gets at least this many tokens (its start) when they do not all fit whole."""
    chunked: bool = False
    """True: read every step in chunks (see the module doc); False: one pass, sampling steps away. One pass is the
    default because it scored better out of sample (Hand-Crafted 5-fold who/when .621/.161 vs .483/.126 chunked;
    Algorithm-Generated equal): the head-and-last sample keeps the early turns where mistakes mostly sit."""
    context_tail_tokens: int = 96
    """Chunked: tokens of the preceding steps that open each chunk after the header (context, not re-scored)."""
    history_sample: str = "head"
    """One pass only: which steps to keep when they do not all fit. ``head``: the first steps and the last one."""
    max_query_chars: int = 200
    last_n_layers: int = 4
    head_agg: str = "mean"
    embed_layer: int = -1

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class Chunk:
    """One forward pass: its tokens, the step each token spells (-1: header), and the steps it encodes
    (``own``); the other steps in it are the context tail, read but scored in their own chunk."""

    token_ids: list[int]
    token_step: np.ndarray
    own: tuple[int, ...]

    def first_own_token(self) -> int:
        """Where the encoded steps start (after the header and the context tail; never 0: the header opens it)."""
        return int(np.isin(self.token_step, self.own).argmax())


def sample_steps(n_steps: int, n_keep: int, mode: str, kinds: tuple[str, ...] = ()) -> tuple[int, ...]:
    """Which steps to keep when only ``n_keep`` fit. The last step (where failure shows) is always kept.
    ``agents_first`` drops tool output (``kinds`` "observation", never a culprit) evenly before any agent step,
    then samples head and tail among what is left."""
    if n_keep >= n_steps:
        return tuple(range(n_steps))
    if mode == "agents_first":
        return _agents_first(n_steps, n_keep, kinds)
    if mode == "head":
        chosen = list(range(n_keep - 1)) + [n_steps - 1]
    elif mode == "tail":
        chosen = list(range(n_steps - n_keep, n_steps))
    elif mode == "head_tail":
        head = (n_keep + 1) // 2
        chosen = list(range(head)) + list(range(n_steps - (n_keep - head), n_steps))
    elif mode == "uniform":
        chosen = np.linspace(0, n_steps - 1, n_keep).round().astype(int).tolist()
    else:
        raise ValueError(f"history_sample {mode!r}: expected one of {', '.join(HISTORY_SAMPLES)}")
    return tuple(sorted(set(chosen)))


def _agents_first(n_steps: int, n_keep: int, kinds: tuple[str, ...]) -> tuple[int, ...]:
    tool_output = [i for i in range(n_steps - 1) if i < len(kinds) and kinds[i] == "observation"]
    to_drop = n_steps - n_keep
    if to_drop <= len(tool_output):
        dropped = {tool_output[i] for i in np.linspace(0, len(tool_output) - 1, to_drop).round().astype(int)}
        return tuple(i for i in range(n_steps) if i not in dropped)
    dropped = set(tool_output)
    agent_steps = [i for i in range(n_steps) if i not in dropped]
    return tuple(agent_steps[i] for i in sample_steps(len(agent_steps), n_keep, "head_tail"))


def header_ids(trajectory: Trajectory, tokenizer: Any, max_query_chars: int) -> list[int]:
    """The prompt's opening: ``Task: <question cut at max_query_chars>`` then ``Steps:``."""
    return token_ids(tokenizer, f"Task: {clean_text(trajectory.query)[:max_query_chars]}\nSteps:\n")


def step_line(step: Step, max_chars: int | None = None) -> str:
    """One step as the model reads it: ``[i] agent (kind): text`` (text cut at ``max_chars`` when given)."""
    return f"{step_label(step)} {clean_text(step.content)[:max_chars]}"


def step_label(step: Step) -> str:
    return f"[{step.index}] {step.agent} ({step.kind}):"


def step_ids(trajectory: Trajectory, tokenizer: Any, config: FeatureConfig) -> list[list[int]]:
    """Every step as :func:`step_line` (text cut at ``max_chars_per_step``), ending in a newline."""
    newline = token_ids(tokenizer, "\n")
    return [token_ids(tokenizer, step_line(s, config.max_chars_per_step)) + newline for s in trajectory.steps]


def build_chunks(trajectory: Trajectory, tokenizer: Any, config: FeatureConfig) -> list[Chunk]:
    header = header_ids(trajectory, tokenizer, config.max_query_chars)
    budget = config.max_tokens - len(header)
    steps = step_ids(trajectory, tokenizer, config)
    if len(steps) * config.min_step_tokens <= budget:
        return [_pack(header, steps, tuple(range(len(steps))), (), _largest_cap([len(s) for s in steps], budget))]
    if not config.chunked:
        n_fit = max(1, budget // config.min_step_tokens)
        kept = sample_steps(len(steps), n_fit, config.history_sample, tuple(s.kind for s in trajectory.steps))
        return [_pack(header, steps, kept, (), _largest_cap([len(steps[i]) for i in kept], budget))]
    return _chunked(header, steps, budget, config)


def _chunked(header: list[int], steps: list[list[int]], budget: int, config: FeatureConfig) -> list[Chunk]:
    cap = max(1, min(config.min_step_tokens, budget))
    tail_budget = max(0, min(config.context_tail_tokens, budget - cap))  # a chunk never exceeds the window
    lengths = [min(len(s), cap) for s in steps]
    chunks, start = [], 0
    while start < len(steps):
        tail, used = [], 0
        for previous in range(start - 1, -1, -1):
            if used + lengths[previous] > tail_budget:
                break
            tail.insert(0, previous)
            used += lengths[previous]
        end, room = start, budget - used
        while end < len(steps) and (end == start or lengths[end] <= room):
            room -= lengths[end]
            end += 1
        chunks.append(_pack(header, steps, tuple(range(start, end)), tuple(tail), cap))
        start = end
    return chunks


def _pack(header: list[int], steps: list[list[int]], own: tuple[int, ...], tail: tuple[int, ...],
          cap: int) -> Chunk:
    token_ids, owner = list(header), [-1] * len(header)
    for index in (*tail, *own):
        ids = steps[index][:cap]
        token_ids += ids
        owner += [index] * len(ids)
    return Chunk(token_ids, np.array(owner, dtype=np.int64), own)


def _largest_cap(lengths: list[int], budget: int) -> int:
    """The largest common per-step token cap with which all steps fit ``budget``."""
    low, high = 1, max(lengths)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(length, middle) for length in lengths) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def token_ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def clean_text(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()
