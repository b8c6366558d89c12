"""Soft-IDG: a step-level information dependency graph built from attention (design 003, section 9).

``weights[i, j]`` (i < j) is how much step j drew on step i: the attention mass from j's tokens to i's span,
restricted to j's visible context, pruned to the top-M in-edges (never fewer than ``min_in_edges``), optionally
boosted where step j explicitly cites step i, then renormalised per target.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine.attribution.schema import Trajectory

RENORM_MODES = ("none", "l1", "softmax")
_CITED_UIDS = re.compile(r"CITED_UIDS\s*=\s*\[([\d,\s]*)\]", re.IGNORECASE)
_STEP_MENTION = re.compile(r"\bstep\s*#?\s*(\d+)\b", re.IGNORECASE)


@dataclass(frozen=True)
class GraphConfig:
    top_m: int = 3
    min_in_edges: int = 1
    min_edge_weight: float = 0.0
    """Edges below this (before renormalisation) are pruned, except the ``min_in_edges`` strongest."""
    renorm: str = "l1"
    temperature: float = 0.05
    normalize_by_src_len: bool = False
    citation_boost: float = 1.0
    """Added to a cited edge, as a multiple of the target's strongest attention edge; 0 = attention only."""


def find_citations(trajectory: Trajectory) -> dict[int, set[int]]:
    """Explicit references: ``CITED_UIDS=[..]`` or "step N" in the text, and ``{"type": "cite"}`` events."""
    cited: dict[int, set[int]] = {}
    for step in trajectory.steps:
        refs = {int(n) for group in _CITED_UIDS.findall(step.content) for n in re.findall(r"\d+", group)}
        refs |= {int(n) for n in _STEP_MENTION.findall(step.content)}
        refs |= {int(e["step"]) for e in step.events if e.get("type") == "cite" and str(e.get("step", "")).isdigit()}
        refs = {r for r in refs if 0 <= r < step.index}
        if refs:
            cited[step.index] = refs
    return cited


def build_soft_idg(
    trajectory: Trajectory,
    attention: np.ndarray,
    kept: np.ndarray,
    token_counts: np.ndarray,
    config: GraphConfig = GraphConfig(),
) -> np.ndarray:
    """The weighted adjacency matrix ``weights[source, target]``."""
    raw = attention / np.maximum(token_counts, 1.0)[:, None] if config.normalize_by_src_len else attention
    citations = find_citations(trajectory) if config.citation_boost > 0 else {}
    weights = np.zeros_like(raw, dtype=float)
    for step in trajectory.steps:
        sources = [i for i in step.context if kept[i]]
        if sources and kept[step.index]:
            cited = citations.get(step.index, set()) & set(sources)
            weights[sources, step.index] = _in_edges(raw[sources, step.index], sources, cited, config)
    return weights


def _in_edges(values: np.ndarray, sources: list[int], cited: set[int], config: GraphConfig) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    keep = np.zeros(len(values), dtype=bool)
    keep[order[: config.top_m]] = True
    keep &= values >= config.min_edge_weight
    keep[order[: config.min_in_edges]] = True
    boosted = values.copy()
    if cited:
        is_cited = np.array([s in cited for s in sources])
        boosted = boosted + is_cited * config.citation_boost * max(values.max(), 1e-6)
        keep |= is_cited
    return _renormalise(np.where(keep, boosted, 0.0), keep, config)


def _renormalise(values: np.ndarray, keep: np.ndarray, config: GraphConfig) -> np.ndarray:
    if config.renorm == "none":
        return values
    if config.renorm == "l1":
        total = values.sum()
        return values / total if total > 0 else values
    if config.renorm == "softmax":
        logits = np.where(keep, values / config.temperature, -np.inf)
        exp = np.exp(logits - logits[keep].max())
        return exp / exp.sum()
    raise ValueError(f"renorm {config.renorm!r}: expected one of {', '.join(RENORM_MODES)}")
