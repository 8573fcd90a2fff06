"""Scoring masks at the original resolution, per image, as the ISIC challenge scorer does."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from skinseg.atomic import atomic_path, write_json
from skinseg.data.io import IMAGE_EXTENSIONS, ImageReadError, read_mask
from skinseg.data.layouts import Sample
from skinseg.metrics import functional as MF

SCORES = ("jaccard", "dice", "threshold_jaccard", "accuracy", "sensitivity", "specificity")


def read_binary_mask(path: Path) -> np.ndarray:
    """A mask as bool: two-level masks as they are, anything else thresholded at > 128 (the
    ISIC scorer's rule for 8-bit masks)."""
    try:
        return read_mask(path)[0].astype(bool)
    except ImageReadError as exc:
        if "not binary" not in str(exc):
            raise
    with Image.open(path) as img:
        return np.asarray(img.convert("L")) > 128


def score_pair(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Per-image scores of one boolean prediction against its boolean truth."""
    p = torch.from_numpy(np.ascontiguousarray(pred))[None]
    t = torch.from_numpy(np.ascontiguousarray(truth))[None]
    confusion = MF.confusion_per_image(p, t)
    out = {name: float(MF.PER_IMAGE_SCORES[name](*confusion)[0]) for name in SCORES}
    tp, fp, fn, _ = (float(c[0]) for c in confusion)
    out["_intersection"], out["_union"] = tp, tp + fp + fn
    return out


def find_file(folder: Path, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    """The first ``<stem><suffix><ext>`` in ``folder`` (PNG first, then any image type)."""
    for suffix in suffixes:
        for ext in (".png", *IMAGE_EXTENSIONS):
            candidate = folder / f"{stem}{suffix}{ext}"
            if candidate.is_file():
                return candidate
    return None


def pair_predictions(pred_dir: Path, samples: list[Sample]) -> list[tuple[str, Path, Path]]:
    """Match each truth mask to ``<id>_segmentation.png`` (or ``<id>.png``) in ``pred_dir``.

    Raises:
        FileNotFoundError: a prediction is missing (all missing ones are listed).
    """
    pairs, missing = [], []
    for s in samples:
        pred = find_file(pred_dir, s.id, ("_segmentation", "_Segmentation", ""))
        if pred is None:
            missing.append(s.id)
        else:
            pairs.append((s.id, pred, s.mask))
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} prediction(s) missing in {pred_dir}, e.g. {missing[:5]} "
            "(expected <id>_segmentation.png)"
        )
    return pairs


def score_files(pairs: list[tuple[str, Path, Path]]) -> list[dict]:
    """Per-image rows ``{id, jaccard, ...}`` for (id, prediction, truth) file triples."""
    rows = []
    for sid, pred_path, truth_path in pairs:
        pred, truth = read_binary_mask(pred_path), read_binary_mask(truth_path)
        if pred.shape != truth.shape:
            raise ValueError(
                f"{sid}: prediction {pred_path} is {pred.shape[1]}x{pred.shape[0]} but truth "
                f"{truth_path} is {truth.shape[1]}x{truth.shape[0]} (width x height)"
            )
        rows.append({"id": sid, **score_pair(pred, truth)})
    return rows


def summarise(rows: list[dict]) -> dict:
    """Per-image means and the dataset-level IoU."""
    if not rows:
        raise ValueError("no images to score")
    union = sum(r["_union"] for r in rows)
    summary = {"images": len(rows)}
    summary.update({name: float(np.mean([r[name] for r in rows])) for name in SCORES})
    summary["iou"] = sum(r["_intersection"] for r in rows) / union if union else 1.0
    return summary


def write_results(rows: list[dict], summary: dict, output: Path) -> tuple[Path, Path]:
    """``per_image.csv`` and ``summary.json`` in ``output``, each written atomically."""
    paths = (output / "per_image.csv", output / "summary.json")
    with atomic_path(paths[0]) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", *SCORES])
        writer.writeheader()
        for r in rows:
            writer.writerow({"id": r["id"], **{k: f"{r[k]:.8f}" for k in SCORES}})
    write_json(paths[1], summary)
    return paths
