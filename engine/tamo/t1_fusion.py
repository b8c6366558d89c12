"""T1: dual-branch conditional diffusion that aligns metrics, traces and logs into one series per entity.

Both branches denoise the same noised multimodal series x_t (DDPM, epsilon prediction). The log branch is
conditioned on log semantics (hashed template words) and the log channels; the temporal branch on the metric
and trace channels, with whole modalities dropped at random during training so each branch learns to fill
in what another modality would say. Their noise estimates are summed (collaborative denoising).
The fused series is the one-step denoised x0 at a small noise level plus both branches'
hidden states, computed with fixed noise so inference is deterministic.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.tamo.features import MODALITY_OF_CHANNEL


class Branch(nn.Module):
    """Per-entity denoiser: (x_t, condition, step) -> hidden [.., T, H], with a temporal convolution."""

    def __init__(self, in_dim: int, cond_dim: int, hidden: int, diffusion_steps: int):
        super().__init__()
        self.step_embedding = nn.Embedding(diffusion_steps, hidden)
        self.inp = nn.Linear(in_dim + cond_dim, hidden)
        self.conv = nn.Conv1d(hidden, hidden, kernel_size=3, padding=1)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, x_t: torch.Tensor, cond: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        b, n, t, _ = x_t.shape
        h = self.inp(torch.cat([x_t, cond], dim=-1)) + self.step_embedding(step)[:, None, None, :]
        h = torch.relu(h).reshape(b * n, t, -1)
        h = h + torch.relu(self.conv(h.transpose(1, 2))).transpose(1, 2)
        return torch.relu(self.out(h)).reshape(b, n, t, -1)


class DualBranchDiffusion(nn.Module):
    def __init__(self, channels: int, semantic_dim: int, hidden: int = 16,
                 diffusion_steps: int = 50, fuse_step: int = 2, modality_dropout: float = 0.3):
        super().__init__()
        self.config = dict(channels=channels, semantic_dim=semantic_dim, hidden=hidden,
                           diffusion_steps=diffusion_steps, fuse_step=fuse_step, modality_dropout=modality_dropout)
        modality = MODALITY_OF_CHANNEL[:channels]
        self.register_buffer("log_channels", torch.tensor([m == "logs" for m in modality]))
        self.register_buffer("modality_ids", torch.tensor([("metrics", "traces", "logs").index(m) for m in modality]))
        betas = torch.linspace(1e-4, 0.05, diffusion_steps)
        self.register_buffer("alpha_bar", torch.cumprod(1.0 - betas, dim=0))
        n_log = int(self.log_channels.sum())
        self.log_branch = Branch(channels, n_log + semantic_dim, hidden, diffusion_steps)
        self.temporal_branch = Branch(channels, channels - n_log, hidden, diffusion_steps)
        self.log_eps = nn.Linear(hidden, channels)
        self.temporal_eps = nn.Linear(hidden, channels)
        self.fused_dim = channels + 2 * hidden

    def conditions(self, series: torch.Tensor, semantics: torch.Tensor, drop: torch.Tensor | None = None):
        if drop is not None:  # [B, 3] per-case modality keep mask
            series = series * drop[:, self.modality_ids][:, None, None, :]
            semantics = semantics * drop[:, 2:3, None]
        t = series.shape[2]
        log_cond = torch.cat([series[..., self.log_channels],
                              semantics[:, :, None, :].expand(-1, -1, t, -1)], dim=-1)
        return log_cond, series[..., ~self.log_channels]

    def denoise(self, x_t, step, log_cond, temporal_cond):
        h_log = self.log_branch(x_t, log_cond, step)
        h_temporal = self.temporal_branch(x_t, temporal_cond, step)
        return self.log_eps(h_log) + self.temporal_eps(h_temporal), torch.cat([h_log, h_temporal], dim=-1)

    def loss(self, series: torch.Tensor, semantics: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b = series.shape[0]
        step = torch.randint(0, len(self.alpha_bar), (b,))
        noise = torch.randn_like(series)
        a = self.alpha_bar[step][:, None, None, None]
        x_t = a.sqrt() * series + (1 - a).sqrt() * noise
        keep = (torch.rand(b, 3) > self.config["modality_dropout"]).float()
        eps, _ = self.denoise(x_t, step, *self.conditions(series, semantics, keep))
        error = ((eps - noise) ** 2).mean(dim=(2, 3))
        return (error * mask).sum() / mask.sum()

    @torch.no_grad()
    def fused(self, series: torch.Tensor, semantics: torch.Tensor) -> torch.Tensor:
        """[B, N, T, channels + 2 * hidden]: denoised series and both branches' hidden states (deterministic)."""
        generator = torch.Generator().manual_seed(0)
        noise = torch.randn(series.shape, generator=generator)
        step = torch.full((series.shape[0],), self.config["fuse_step"], dtype=torch.long)
        a = self.alpha_bar[step][:, None, None, None]
        x_t = a.sqrt() * series + (1 - a).sqrt() * noise
        eps, hidden = self.denoise(x_t, step, *self.conditions(series, semantics))
        x0 = (x_t - (1 - a).sqrt() * eps) / a.sqrt()
        return torch.cat([x0, hidden], dim=-1)
