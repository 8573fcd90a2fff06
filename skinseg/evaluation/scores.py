"""Per-image scores of boolean masks, and their summary over a set of images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from skinseg.evaluation.intervals import LEVEL, RESAMPLES, SEED, bootstrap_interval
from skinseg.metrics import functional as MF

SCORES = ("jaccard", "dice", "threshold_jaccard", "accuracy", "sensitivity", "specificity")


def score_mask(sid: str, pred: np.ndarray, truth: np.ndarray) -> dict:
    """One image's row: ``id``, the :data:`SCORES`, and the pixel counts behind the
    dataset-level IoU (``_intersection``, ``_union``; not written to tables).

    Shape:
        pred, truth: (H, W) boolean (or {0, 1}) masks of the same size.

    Raises:
        ValueError: the two masks differ in size.
    """
    p = torch.from_numpy(np.ascontiguousarray(pred, dtype=bool))[None]
    t = torch.from_numpy(np.ascontiguousarray(truth, dtype=bool))[None]
    confusion = MF.confusion_per_image(p, t)
    row = {"id": sid}
    row.update({name: float(MF.PER_IMAGE_SCORES[name](*confusion)[0]) for name in SCORES})
    tp, fp, fn, _ = (float(c[0]) for c in confusion)
    row["_intersection"], row["_union"] = tp, tp + fp + fn
    return row


def _means(rows: Sequence[dict], intervals: bool, seed: int) -> dict:
    out: dict = {"images": len(rows)}
    out.update({name: float(np.mean([r[name] for r in rows])) for name in SCORES})
    if all("_union" in r for r in rows):
        union = sum(r["_union"] for r in rows)
        out["iou"] = sum(r["_intersection"] for r in rows) / union if union else 1.0
    if intervals:
        out["interval"] = {
            name: list(bootstrap_interval([r[name] for r in rows], seed=seed)) for name in SCORES
        }
    return out


def summarise(rows: Sequence[dict], intervals: bool = False, seed: int = SEED) -> dict:
    """Means of the per-image scores over ``rows``, their count, and the dataset-level IoU
    (where the rows carry pixel counts).

    With ``intervals``: each mean's 95 % bootstrap interval (``interval``: score -> ``[low,
    high]``, seeded by ``seed``; how it was drawn under ``bootstrap``), and where rows carry a
    ``diagnosis``, the same per diagnosis (``by_diagnosis``, rows without one under
    ``unlabelled``).

    Raises:
        ValueError: no rows.
    """
    if not rows:
        raise ValueError("no images to score")
    summary = _means(rows, intervals, seed)
    if not intervals:
        return summary
    summary["bootstrap"] = {"level": LEVEL, "resamples": RESAMPLES, "seed": seed}
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r.get("diagnosis") or "unlabelled", []).append(r)
    if set(groups) != {"unlabelled"}:
        summary["by_diagnosis"] = {
            name: _means(group, True, seed) for name, group in sorted(groups.items())
        }
    return summary
