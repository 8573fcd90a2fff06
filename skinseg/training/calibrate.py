"""After fitting: choose the mask threshold on the validation split, then score held-out images
at their original resolution through the full prediction recipe (TTA, post-processing), exactly
as ``skinseg predict`` will run the shipped checkpoint."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from skinseg.atomic import atomic_path
from skinseg.inference.evaluate import SCORES, score_pair
from skinseg.inference.loading import load_predictor
from skinseg.inference.predictor import Predictor
from skinseg.inference.run import batches

log = logging.getLogger(__name__)

# A threshold away from 0.5 must beat 0.5 by this much mean Jaccard on the validation split:
# with a few dozen validation images, smaller differences are noise.
MIN_GAIN = 0.002

Pair = tuple[str, np.ndarray, np.ndarray]  # id, RGB uint8 image, {0, 1} mask


def _probabilities(
    predictor: Predictor, pairs: Iterable[Pair], batch_size: int
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(id, probabilities at the image's own size, truth)`` for each pair."""
    for batch in batches(pairs, batch_size):
        probs = predictor.predict([image for _, image, _ in batch])
        for (sid, _, mask), p in zip(batch, probs, strict=True):
            yield sid, p, mask.astype(bool)


def _jaccard(pred: np.ndarray, truth: np.ndarray) -> float:
    union = np.logical_or(pred, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, truth).sum() / union)


def choose_threshold(
    predictor: Predictor,
    pairs: Iterable[Pair],
    thresholds: Sequence[float],
    batch_size: int = 4,
) -> tuple[float, dict[float, float]]:
    """The threshold of ``thresholds`` with the best mean per-image Jaccard on ``pairs``
    (post-processing applied), and the mean Jaccard of every candidate.

    0.5 is kept unless another threshold beats it by :data:`MIN_GAIN`.
    """
    candidates = sorted({round(float(t), 4) for t in [*thresholds, 0.5]})
    bad = [t for t in candidates if not 0.0 < t < 1.0]
    if bad:
        raise ValueError(f"thresholds must be in (0, 1), got {bad}")
    totals = dict.fromkeys(candidates, 0.0)
    count = 0
    with torch.inference_mode():
        for _, probs, truth in _probabilities(predictor, pairs, batch_size):
            for t in candidates:
                totals[t] += _jaccard(predictor.to_mask(probs, t).astype(bool), truth)
            count += 1
    if count == 0:
        raise ValueError("no validation images to choose a threshold on")
    means = {t: v / count for t, v in totals.items()}
    best = max(candidates, key=lambda t: (means[t], -abs(t - 0.5)))
    chosen = best if means[best] >= means[0.5] + MIN_GAIN else 0.5
    return chosen, means


def score_full_resolution(
    predictor: Predictor, pairs: Iterable[Pair], batch_size: int = 4
) -> list[dict]:
    """Per-image scores (``id`` plus :data:`SCORES`) of the recipe's masks at full size."""
    with torch.inference_mode():
        return [
            score_probabilities(predictor, sid, probs, truth)
            for sid, probs, truth in _probabilities(predictor, pairs, batch_size)
        ]


def score_probabilities(
    predictor: Predictor, sid: str, probs: np.ndarray, truth: np.ndarray
) -> dict:
    """One image's row (``id`` plus :data:`SCORES`): the recipe's mask from ``probs``
    (threshold and post-processing of ``predictor.recipe``) scored against ``truth``."""
    scores = score_pair(predictor.to_mask(probs).astype(bool), truth.astype(bool))
    return {"id": sid, **{k: scores[k] for k in SCORES}}


def summarise(rows: list[dict]) -> dict[str, float]:
    """Means of the per-image scores, named like the test metrics (``test_full/jaccard``)."""
    return {f"test_full/{k}": float(np.mean([r[k] for r in rows])) for k in SCORES}


def write_rows(rows: list[dict], path: Path) -> Path:
    """Per-image scores as CSV, written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", *SCORES])
        writer.writeheader()
        writer.writerows(rows)
    return path


def store_threshold(checkpoint: Path, threshold: float) -> None:
    """Write the chosen threshold into a checkpoint's prediction recipe (atomically)."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    meta = ckpt.setdefault("skinseg", {})
    meta.setdefault("recipe", {})["threshold"] = float(threshold)
    meta["threshold"] = float(threshold)
    with atomic_path(checkpoint) as tmp:
        torch.save(ckpt, tmp)


def calibrate_and_score(
    checkpoint: Path,
    datamodule,
    output_dir: Path,
    select_threshold: bool,
    thresholds: Sequence[float],
    score_test: bool,
    device: str = "auto",
) -> dict:
    """Choose the threshold (stored in ``checkpoint``) and score the test split at full size.

    Returns:
        ``{"threshold": ..., "threshold_candidates": {...}, "test_full/...": ...}`` with the
        parts that ran.
    """
    out: dict = {}
    predictor = load_predictor(checkpoint, device)
    if select_threshold and "val" in datamodule.datasets:
        threshold, means = choose_threshold(predictor, datamodule.originals("val"), thresholds)
        store_threshold(checkpoint, threshold)
        predictor.recipe.threshold = threshold
        out["threshold"] = threshold
        out["threshold_candidates"] = {f"{t:g}": round(v, 5) for t, v in means.items()}
        log.info("Threshold %.2f chosen on the validation split (%s)", threshold, means)
    if score_test and "test" in datamodule.datasets:
        out.setdefault("threshold", predictor.recipe.threshold)  # the one the scores used
        rows = score_full_resolution(predictor, datamodule.originals("test"))
        write_rows(rows, output_dir / "test_per_image.csv")
        out.update(summarise(rows))
        log.info(
            "Full-resolution test scores: %s",
            {k: round(v, 4) for k, v in out.items() if k.startswith("test_full/")},
        )
    return out
