"""T3: fault-type classifier over the causal graph (from T2) and the call topology.

Node features: a summary of each entity's fused series over the alert window (mean, peak, trough per
channel), the statistical priors, its T2 root-cause probability and causal in/out strength. Multi-head attention between the nodes,
then a graph convolution on the topology (both directions) plus the causal graph; the read-out is weighted
by the root-cause probability, so the class is decided mostly where T2 points. Trained with a
class-weighted binary cross-entropy (one sigmoid per fault type), as in the design.
"""

from __future__ import annotations

import torch
from torch import nn

WINDOW_STEPS = 3  # the alert minute and the two after it


def normalised_adjacency(adjacency: torch.Tensor) -> torch.Tensor:
    """D^-1/2 (A + A^T + I) D^-1/2, per batch item."""
    eye = torch.eye(adjacency.shape[-1])[None]
    a = ((adjacency + adjacency.transpose(1, 2)) > 0).float() + eye
    d = a.sum(-1).clamp(min=1.0).rsqrt()
    return d[:, :, None] * a * d[:, None, :]


class GraphClassifier(nn.Module):
    def __init__(self, in_dim: int, prior_dim: int, classes: int, dim: int = 32, heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.config = dict(in_dim=in_dim, prior_dim=prior_dim, classes=classes, dim=dim, heads=heads, dropout=dropout)
        self.embed = nn.Sequential(nn.Dropout(dropout), nn.Linear(3 * in_dim + prior_dim + 3, dim), nn.ReLU())
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.graph_conv = nn.Linear(2 * dim, dim)
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, classes))

    def node_features(self, fused, prior, root_prob, causal):
        window = fused[:, :, -WINDOW_STEPS:, :]
        summary = [window.mean(dim=2), window.amax(dim=2), window.amin(dim=2)]
        strength = torch.stack([root_prob, causal.sum(1), causal.sum(2)], dim=-1)
        return torch.cat(summary + [prior, strength], dim=-1)

    def forward(self, fused, prior, root_prob, causal, adjacency, mask):
        """Class logits [B, classes]."""
        x = self.embed(self.node_features(fused, prior, root_prob, causal))
        attended, _ = self.attention(x, x, x, key_padding_mask=~mask)
        x = x + attended
        neighbours = torch.cat([normalised_adjacency(adjacency) @ x, causal @ x], dim=-1)
        x = x + torch.relu(self.graph_conv(neighbours))
        weights = (root_prob * mask)[..., None]
        pooled = (weights * x).sum(1) / weights.sum(1).clamp(min=1e-6)
        return self.head(pooled)


def class_weighted_bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor) -> torch.Tensor:
    onehot = nn.functional.one_hot(targets, logits.shape[-1]).float()
    return nn.functional.binary_cross_entropy_with_logits(logits, onehot, pos_weight=pos_weight)
