"""T2: self-attention over entities in the frequency domain -> causal graph + root-cause scores.

Each entity's fused series is moved to the frequency domain (real FFT over time: real and imaginary parts,
so where in the window a deviation happens is kept) and embedded as one token. Self-attention between the
entity tokens, biased by the call topology, mixes evidence across entities; the last layer's attention
weights (averaged over heads) are read as a causal graph: a large weight from i to j says j's behaviour
explains i's. A linear head scores each entity; softmax over the case's entities gives the ranking.
With `domain="time"` the tokens embed the raw time series instead (the ablation).

A token holds nothing that names the system: not the hashed words of the entity's log templates (another system
logs other words) nor its number of callers and callees (another system has another call graph); the topology
enters only as the attention's callee / caller bias. On the 60 dev cases, T2 (three members) trained on one system
ranked the other's root first in .567 / .550 of them with those inputs (members from seed 0 / seed 3) and .717 /
.550 without; with the case's fault type left out of training .683 / .733 with, .817 / .783 without; k-fold .983 /
.933 with, .967 / .917 without (docs/lab-notes/ranker.md, "Session 28").
"""

from __future__ import annotations

import math

import torch
from torch import nn


class TopologyAttention(nn.Module):
    """Multi-head self-attention whose logits get a learned bonus per head for callee and caller pairs."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.callee_bias = nn.Parameter(torch.zeros(heads))
        self.caller_bias = nn.Parameter(torch.zeros(heads))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))

    def forward(self, x, adjacency, mask):
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        logits = logits + self.callee_bias[None, :, None, None] * adjacency[:, None]
        logits = logits + self.caller_bias[None, :, None, None] * adjacency.transpose(1, 2)[:, None]
        logits = logits.masked_fill(~mask[:, None, None, :], float("-inf"))
        weights = torch.softmax(logits, dim=-1)
        mixed = (weights @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.out(mixed)
        return x + self.ff(self.norm2(x)), weights.mean(dim=1)


class FrequencyAttention(nn.Module):
    def __init__(self, in_dim: int, steps: int, prior_dim: int, dim: int = 32, heads: int = 4,
                 layers: int = 2, per_channel: int = 3, domain: str = "frequency", dropout: float = 0.2):
        super().__init__()
        self.config = dict(in_dim=in_dim, steps=steps, prior_dim=prior_dim, dim=dim,
                           heads=heads, layers=layers, per_channel=per_channel, domain=domain, dropout=dropout)
        # one projection shared by every channel's spectrum (or series), so the token stays small
        self.channel_embed = nn.Linear(2 * (steps // 2 + 1) if domain == "frequency" else steps, per_channel)
        self.embed = nn.Sequential(nn.Dropout(dropout),
                                   nn.Linear(in_dim * per_channel + prior_dim, dim), nn.ReLU(),
                                   nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(TopologyAttention(dim, heads) for _ in range(layers))
        self.score = nn.Linear(dim, 1)
        self.prior_score = nn.Linear(prior_dim, 1)  # the statistical prior's own say in the ranking

    def tokens(self, fused: torch.Tensor) -> torch.Tensor:
        b, n, t, c = fused.shape
        per_channel = fused.transpose(2, 3)  # [B, N, C, T]
        if self.config["domain"] == "frequency":
            spectrum = torch.fft.rfft(per_channel, dim=-1, norm="ortho")
            per_channel = torch.cat([spectrum.real, spectrum.imag], dim=-1)
        return torch.relu(self.channel_embed(per_channel)).reshape(b, n, -1)

    def forward(self, fused, prior, adjacency, mask):
        """(logits [B, N] with -inf on padding, hidden [B, N, dim], causal weights [B, N, N])."""
        x = self.embed(torch.cat([self.tokens(fused), prior], dim=-1))
        weights = None
        for block in self.blocks:
            x, weights = block(x, adjacency, mask)
        logits = self.score(x).squeeze(-1) + self.prior_score(prior).squeeze(-1)
        return logits.masked_fill(~mask, float("-inf")), x, weights
