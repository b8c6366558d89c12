"""Robust deviations of a metric from its normal level, for one period or for many at once.

The noise floors read every metric of a case over ~40 earlier stretches of its history (ranking._earlier_stretches);
`Periods` and `robust_z_rows` read them all in one pass per series, with the same figures, to the last bit, as
`robust_z` on each stretch alone (the medians are the same selections of the same samples).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Deviation:
    z: float  # robust standard deviations, in the direction that means trouble; 0 if none
    value: float  # the worst window value
    level: float  # the normal level it is compared with


NO_DEVIATION = Deviation(0.0, float("nan"), float("nan"))


def robust_z(
    window: np.ndarray, baseline: np.ndarray, direction: int, floor: float = 1e-6, recent: np.ndarray | None = None
) -> Deviation:
    """How far the worst window value sits from the normal level, in robust standard deviations of the
    baseline. The level is the recent pre-alert median when there is one (levels drift; spreads less so).
    Non-finite samples are left out."""
    recent_row = None if recent is None else _finite_row(recent)
    return robust_z_rows(_finite_row(window), _finite_row(baseline), direction, floor, recent_row)[0]


def robust_z_rows(window: np.ndarray, baseline: np.ndarray, direction: int, floor: float = 1e-6,
                  recent: np.ndarray | None = None) -> list[Deviation]:
    """`robust_z` of each row of several periods at once: `window`, `baseline` and `recent` hold one period per row,
    NaN where it has no sample (rows padded to the longest period)."""
    level, recent_level = row_medians(baseline), row_medians(recent) if recent is not None else None
    spread = row_medians(np.abs(baseline - level[:, None]))
    present = np.isfinite(window)
    worst = np.where(present, window, -np.inf).max(axis=1, initial=-np.inf) if direction > 0 else \
        np.where(present, window, np.inf).min(axis=1, initial=np.inf)
    usable = present.any(axis=1) & np.isfinite(baseline).any(axis=1)
    return [_deviation(float(worst[row]), float(level[row]), float(spread[row]), direction, floor,
                       None if recent_level is None else float(recent_level[row])) if usable[row] else NO_DEVIATION
            for row in range(len(window))]


def _deviation(worst: float, level: float, mad: float, direction: int, floor: float,
               recent_level: float | None) -> Deviation:
    """`worst` against the baseline's median `level` and median absolute deviation `mad` (see robust_z)."""
    spread = max(1.4826 * mad, 0.1 * abs(level), floor)  # a flat baseline must not turn noise into huge z
    if recent_level is not None and np.isfinite(recent_level):
        level = recent_level
    z = max((worst - level) * direction, 0.0) / spread
    if direction > 0 and level > 0:  # a rise counts fully from a doubling on; small relative rises are noise
        z *= min(1.0, np.log(max(worst, level) / level) / np.log(2.0))
    return Deviation(float(z), worst, level)


def row_medians(rows: np.ndarray) -> np.ndarray:
    """The median of each row's finite values (NaN for a row without any), as np.median gives it for those values
    alone: the middle one, or the mean of the middle two. A row holding a negative zero is left to np.median itself
    (which of two equal zeros it returns is up to its partition)."""
    rows = np.where(np.isfinite(rows), rows, np.nan)
    counts = np.isfinite(rows).sum(axis=1)
    medians = np.full(len(rows), np.nan)
    if rows.shape[1] == 0:
        return medians
    ordered = np.sort(rows, axis=1)  # NaN last
    taken = np.arange(len(rows))
    upper = ordered[taken, np.minimum(counts // 2, rows.shape[1] - 1)]
    lower = ordered[taken, np.maximum(counts // 2 - 1, 0)]
    medians = np.where(counts == 0, np.nan, np.where(counts % 2 == 1, upper, (lower + upper) / 2))
    for row in np.flatnonzero(((rows == 0) & np.signbit(rows)).any(axis=1)):
        medians[row] = np.median(rows[row][np.isfinite(rows[row])])
    return medians


def row_lasts(rows: np.ndarray) -> np.ndarray:
    """The last finite value of each row (NaN for a row without any)."""
    finite = np.isfinite(rows)
    if rows.shape[1] == 0:
        return np.full(len(rows), np.nan)
    last = rows.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1)
    return np.where(finite.any(axis=1), rows[np.arange(len(rows)), last], np.nan)


def row_means(rows: np.ndarray) -> np.ndarray:
    """The mean of each row's finite values (NaN for a row without any)."""
    counts = np.isfinite(rows).sum(axis=1)
    sums = np.where(np.isfinite(rows), rows, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


@dataclass(frozen=True)
class Periods:
    """Where each of several periods [start, end) falls on a series' time axis: what `MetricSeries.between` selects
    for each, as the rows of one matrix."""

    order: np.ndarray  # [periods, samples of the longest]: each period's sample positions, in time-axis order
    real: np.ndarray  # which entries of `order` are the period's (the rest pad its row)

    @classmethod
    def on(cls, times: np.ndarray, bounds: Sequence[tuple[float, float]]) -> Periods:
        starts, ends = (np.array([bound[k] for bound in bounds], dtype=float)[:, None] for k in (0, 1))
        inside = (times >= starts) & (times < ends)
        counts = inside.sum(axis=1)
        width = int(counts.max(initial=0))
        order = np.argsort(~inside, axis=1, kind="stable")[:, :width]  # a period's positions first, in order
        return cls(order, np.arange(width) < counts[:, None])

    def rows(self, values: np.ndarray) -> np.ndarray:
        """Each period's finite values of the series, NaN elsewhere."""
        taken = values[self.order]
        return np.where(self.real & np.isfinite(taken), taken, np.nan)


def _finite_row(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)][None, :]
