"""Batch prediction over files: read, predict, resize back, post-process, write."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from skinseg.data.io import ImageReadError, read_image
from skinseg.inference.files import check_output_dir, list_images, write_png
from skinseg.inference.loading import load_predictor
from skinseg.inference.predictor import Predictor
from skinseg.recipe import PREDICTION_COLOUR
from skinseg.recipe import overlay as draw_overlay

log = logging.getLogger(__name__)
T = TypeVar("T")


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), from any iterable."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def predict_pairs(
    predictor: Predictor,
    pairs: Iterable[tuple[str, np.ndarray, np.ndarray]],
    batch_size: int = 4,
    tta: bool | None = None,
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(id, probabilities at the image's own size, truth as bool)`` for ``(id, image,
    truth)`` pairs held in memory (a DataModule's originals), in order."""
    for batch in batches(pairs, batch_size):
        probs = predictor.predict([image for _, image, _ in batch], tta)
        for (sid, _, truth), p in zip(batch, probs, strict=True):
            yield sid, p, truth.astype(bool)


def predict_masks(
    predictor: Predictor,
    paths: list[Path],
    threshold: float | None = None,
    tta: bool | None = None,
    batch_size: int = 4,
    progress: bool = True,
    failures: list[str] | None = None,
) -> Iterator[tuple[Path, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(path, image, probabilities, mask)`` for each image, in order.

    An unreadable image raises, unless ``failures`` is given: then its error is appended there
    and the other images go on.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    bar = tqdm(total=len(paths), unit="img", disable=not progress or len(paths) < 2)
    for chunk in batches(paths, batch_size):
        good, images = [], []
        for p in chunk:
            try:
                images.append(read_image(p)[0])
                good.append(p)
            except ImageReadError as exc:
                if failures is None:
                    raise
                failures.append(str(exc))
        if images:
            for path, image, probs in zip(
                good, images, predictor.predict(images, tta), strict=True
            ):
                yield path, image, probs, predictor.to_mask(probs, threshold)
        bar.update(len(chunk))
    bar.close()


def predict_files(
    checkpoint: str | Path,
    input_path: str | Path,
    output_dir: str | Path,
    threshold: float | None = None,
    tta: bool | None = None,
    overlay: bool = False,
    probabilities: bool = False,
    batch_size: int = 4,
    device: str | None = "auto",
    progress: bool = True,
    precision: str = "auto",
) -> list[Path]:
    """Write ``<stem>_segmentation.png`` (0/255, the input's size) for every input image.

    All inputs are listed and the model loaded before anything is written. An unreadable image
    does not stop the others: every failure is listed in one error at the end, after the
    readable images' masks are written (each file whole, by an atomic rename).
    """
    paths = list_images(input_path)
    predictor = load_predictor(checkpoint, device, precision)
    out = check_output_dir(Path(output_dir))
    protected = {p.resolve() for p in paths}
    written = []
    failures: list[str] = []
    for path, image, probs, mask in predict_masks(
        predictor, paths, threshold, tta, batch_size, progress, failures
    ):
        written.append(write_png(mask * 255, out / f"{path.stem}_segmentation.png", protected))
        if overlay:
            write_png(
                draw_overlay(image, mask, PREDICTION_COLOUR),
                out / f"{path.stem}_overlay.png",
                protected,
            )
        if probabilities:
            write_png(
                np.clip(probs * 255 + 0.5, 0, 255).astype(np.uint8),
                out / f"{path.stem}_probability.png",
                protected,
            )
    if failures:
        raise ValueError(
            f"{len(failures)} of {len(paths)} image(s) could not be read "
            f"({len(written)} mask(s) written to {out}):\n  " + "\n  ".join(failures)
        )
    return written
