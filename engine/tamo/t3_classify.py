"""T3: fault-type classifier over the causal graph (from T2) and the call topology.

Node features: each entity's fault signatures (engine.tamo.signatures: log errors and templates against the
reference, metric ratios and absolute changes, and how far each stands out from the other entities), a summary
of its raw channels over the alert window (mean, peak, trough, change against the minutes before the alert:
which metric / trace / log channels move), the mean of its fused series (T1) over the window, the statistical
priors, its T2 root-cause probability and causal in/out strength. The features are standardised with the
training nodes' statistics. Multi-head attention between the nodes, then a graph convolution on the topology
(both directions) plus the causal graph; the read-out is weighted by the root-cause probability, so the class is
decided mostly where T2 points. Trained with a class-weighted binary cross-entropy (one sigmoid per fault
type), as in the design; a few members trained from different seeds are averaged (less variance on few cases).
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
    def __init__(self, in_dim: int, series_dim: int, signature_dim: int, prior_dim: int, classes: int, dim: int = 32,
                 heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.config = dict(in_dim=in_dim, series_dim=series_dim, signature_dim=signature_dim, prior_dim=prior_dim,
                           classes=classes, dim=dim, heads=heads, dropout=dropout)
        width = in_dim + 4 * series_dim + signature_dim + prior_dim + 3
        # standardised with the training nodes' statistics (fit_scale): a memory ratio of 0.3 then weighs as much
        # as a latency z-score of 3
        self.register_buffer("feature_mean", torch.zeros(width))
        self.register_buffer("feature_std", torch.ones(width))
        self.embed = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, dim), nn.ReLU())
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.graph_conv = nn.Linear(2 * dim, dim)
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, classes))

    def node_features(self, fused, series, signature, prior, root_prob, causal):
        strength = torch.stack([root_prob, causal.sum(1), causal.sum(2)], dim=-1)
        return torch.cat([fused[:, :, -WINDOW_STEPS:].mean(dim=2), series_summary(series), signature, prior, strength],
                         dim=-1)

    @torch.no_grad()
    def fit_scale(self, fused, series, signature, prior, root_prob, causal, mask) -> None:
        nodes = self.node_features(fused, series, signature, prior, root_prob, causal)[mask]
        self.feature_mean.copy_(nodes.mean(dim=0))
        self.feature_std.copy_(nodes.std(dim=0).nan_to_num(1.0).clamp(min=1e-3))

    def forward(self, fused, series, signature, prior, root_prob, causal, adjacency, mask):
        """Class logits [B, classes]."""
        features = self.node_features(fused, series, signature, prior, root_prob, causal)
        x = self.embed((features - self.feature_mean) / self.feature_std)
        attended, _ = self.attention(x, x, x, key_padding_mask=~mask)
        x = x + attended
        neighbours = torch.cat([normalised_adjacency(adjacency) @ x, causal @ x], dim=-1)
        x = x + torch.relu(self.graph_conv(neighbours))
        weights = (root_prob * mask)[..., None]
        pooled = (weights * x).sum(1) / weights.sum(1).clamp(min=1e-6)
        return self.head(pooled)


class ClassifierEnsemble(nn.Module):
    """Members of the same architecture, trained from different seeds; logits are averaged."""

    def __init__(self, members: int = 3, **config):
        super().__init__()
        self.members = nn.ModuleList(GraphClassifier(**config) for _ in range(members))
        self.config = dict(self.members[0].config, members=members)

    def forward(self, *inputs):
        return torch.stack([member(*inputs) for member in self.members]).mean(dim=0)


def series_summary(series: torch.Tensor) -> torch.Tensor:
    """[B, N, T, C] -> [B, N, 4C]: window mean, peak, trough, and window mean minus the mean before the alert."""
    window, before = series[:, :, -WINDOW_STEPS:], series[:, :, :-WINDOW_STEPS]
    mean = window.mean(dim=2)
    return torch.cat([mean, window.amax(dim=2), window.amin(dim=2), mean - before.mean(dim=2)], dim=-1)


def class_weighted_bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor) -> torch.Tensor:
    onehot = nn.functional.one_hot(targets, logits.shape[-1]).float()
    return nn.functional.binary_cross_entropy_with_logits(logits, onehot, pos_weight=pos_weight)
