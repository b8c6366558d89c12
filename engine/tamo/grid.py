"""The common time grid every modality is aligned to, and robust normalisation against a baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

STEP_SECONDS = 60.0
STEPS_BEFORE = 13  # minutes of history before the alert minute
STEPS = 16  # the alert minute and the two after it close the grid


@dataclass(frozen=True)
class Grid:
    start: float  # epoch seconds of bin 0
    step: float = STEP_SECONDS
    steps: int = STEPS

    @classmethod
    def around(cls, alert_time: float) -> Grid:
        minute = alert_time - alert_time % STEP_SECONDS
        return cls(start=minute - STEPS_BEFORE * STEP_SECONDS)

    def bin_of(self, times: np.ndarray) -> np.ndarray:
        """Bin index of each time; -1 outside the grid."""
        index = np.floor((np.asarray(times, dtype=float) - self.start) / self.step).astype(int)
        return np.where((index >= 0) & (index < self.steps), index, -1)

    def within(self, records: list, time_of: Callable[[object], float]) -> list:
        """The records whose time (read by `time_of`) falls inside the grid, in their order."""
        if not records:
            return []
        inside = self.bin_of(np.array([time_of(r) for r in records])) >= 0
        return [r for r, keep in zip(records, inside) if keep]

    def bin_means(self, times: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Mean of the finite values falling in each bin; NaN for an empty bin."""
        out = np.full(self.steps, np.nan)
        index = self.bin_of(times)
        keep = (index >= 0) & np.isfinite(values)
        if keep.any():
            sums = np.bincount(index[keep], weights=values[keep], minlength=self.steps)
            counts = np.bincount(index[keep], minlength=self.steps)
            out = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        return out


def robust_z(values: np.ndarray, baseline: np.ndarray, floor: float) -> np.ndarray:
    """Deviation from the baseline median in robust SDs; NaN stays NaN."""
    baseline = baseline[np.isfinite(baseline)]
    if len(baseline) == 0:
        return np.full_like(values, np.nan)
    median = float(np.median(baseline))
    spread = max(1.4826 * float(np.median(np.abs(baseline - median))), 0.1 * abs(median), floor)
    return (values - median) / spread


def squash(values: np.ndarray, limit: float = 4.0) -> np.ndarray:
    """Signed log1p, clipped: keeps the order of large deviations without letting one dominate; NaN -> 0."""
    out = np.sign(values) * np.log1p(np.abs(values))
    return np.clip(np.nan_to_num(out, nan=0.0), -limit, limit)
