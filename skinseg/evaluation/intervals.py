"""Uncertainty of a mean over images: percentile bootstrap intervals, seeded.

A mean over 100 images moves by a few hundredths when other images of the same kind are drawn;
the interval says how far, so that two evaluations are not read as different on noise alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LEVEL = 0.95  # coverage of the intervals
RESAMPLES = 2000  # bootstrap draws per interval
SEED = 0  # default seed: the same rows give the same interval


def bootstrap_interval(
    values: Sequence[float], level: float = LEVEL, resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``values``: images drawn with
    replacement ``resamples`` times, the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles
    of the resampled means (Efron and Tibshirani, *An Introduction to the Bootstrap*, 1993,
    ch. 13).

    Raises:
        ValueError: no values, a NaN among them, or ``level`` outside (0, 1).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"bootstrap_interval needs a non-empty list of numbers, got {x.shape}")
    if np.isnan(x).any():
        raise ValueError("bootstrap_interval: the values contain NaN")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 4_000_000 // x.size)  # bounded memory for large evaluations
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        means[start:stop] = x[rng.integers(0, x.size, (stop - start, x.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    mean = float(x.mean())
    # Quantiles of resampled means can miss the mean by rounding when every value is equal.
    return min(float(lo), mean), max(float(hi), mean)
