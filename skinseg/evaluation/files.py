"""Scoring mask files made by anything against truth files, as the ISIC challenge scorer does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from skinseg.data.io import IMAGE_EXTENSIONS, ImageReadError, read_mask
from skinseg.data.layouts import Sample
from skinseg.evaluation.scores import score_mask


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
    """Per-image rows (see :func:`~skinseg.evaluation.scores.score_mask`) for
    ``(id, prediction, truth)`` file triples.

    Raises:
        ValueError: a prediction and its truth differ in size.
    """
    rows = []
    for sid, pred_path, truth_path in pairs:
        pred, truth = read_binary_mask(pred_path), read_binary_mask(truth_path)
        if pred.shape != truth.shape:
            raise ValueError(
                f"{sid}: prediction {pred_path} is {pred.shape[1]}x{pred.shape[0]} but truth "
                f"{truth_path} is {truth.shape[1]}x{truth.shape[0]} (width x height)"
            )
        rows.append(score_mask(sid, pred, truth))
    return rows
