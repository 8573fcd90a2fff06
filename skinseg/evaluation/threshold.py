"""Choosing the mask threshold of a recipe on validation images."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from skinseg.evaluation.scores import score_mask
from skinseg.recipe import Recipe

# A threshold away from 0.5 must beat 0.5 by this much mean Jaccard on the validation split:
# with a few dozen validation images, smaller differences are noise.
MIN_GAIN = 0.002


def choose_threshold(
    scored: Iterable[tuple[np.ndarray, np.ndarray]],
    recipe: Recipe,
    thresholds: Sequence[float],
) -> tuple[float, dict[float, float]]:
    """The threshold of ``thresholds`` with the best mean per-image Jaccard, and the mean
    Jaccard of every candidate.

    Args:
        scored: ``(probabilities, truth)`` pairs at the images' own resolution.
        recipe: whose post-processing turns each thresholded map into the mask scored.
        thresholds: the candidates (0.5 is always one).

    0.5 is kept unless another threshold beats it by :data:`MIN_GAIN`.

    Raises:
        ValueError: a candidate outside (0, 1), or no images.
    """
    candidates = sorted({round(float(t), 4) for t in [*thresholds, 0.5]})
    bad = [t for t in candidates if not 0.0 < t < 1.0]
    if bad:
        raise ValueError(f"thresholds must be in (0, 1), got {bad}")
    totals = dict.fromkeys(candidates, 0.0)
    count = 0
    for probs, truth in scored:
        for t in candidates:
            totals[t] += score_mask("", recipe.to_mask(probs, t), truth)["jaccard"]
        count += 1
    if count == 0:
        raise ValueError("no validation images to choose a threshold on")
    means = {t: v / count for t, v in totals.items()}
    best = max(candidates, key=lambda t: (means[t], -abs(t - 0.5)))
    chosen = best if means[best] >= means[0.5] + MIN_GAIN else 0.5
    return chosen, means
