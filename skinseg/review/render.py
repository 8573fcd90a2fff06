"""The review's pictures: each image with its truth and prediction outlined, full size and as
a thumbnail."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from skinseg.data.io import read_image
from skinseg.evaluation.files import read_binary_mask
from skinseg.recipe import PREDICTION_COLOUR, TRUTH_COLOUR, outlines, resize_image, resize_mask
from skinseg.review.sources import Entry

THUMBNAIL_SIDE = 160  # longer side of a thumbnail, in pixels
BLANK = 96  # grey behind the outlines when an evaluation has masks but no images


@dataclass(frozen=True)
class Pictures:
    """Where an entry's pictures were written (relative to the review's folder) and the full
    picture's size."""

    thumbnail: str
    full: str
    width: int
    height: int


def file_stem(index: int, entry: Entry) -> str:
    """A file name for an entry's pictures: unique (its position) and readable (its key)."""
    return f"{index:05d}_" + re.sub(r"[^A-Za-z0-9._-]+", "_", entry.key)[:80]


def _outlined(image: np.ndarray, truth: np.ndarray, pred: np.ndarray, width=None) -> np.ndarray:
    return outlines(image, [(truth, TRUTH_COLOUR), (pred, PREDICTION_COLOUR)], width)


def draw(entry: Entry) -> tuple[np.ndarray, np.ndarray]:
    """The full-size outlined picture of an entry and its thumbnail.

    Raises:
        ValueError: the image, truth and prediction differ in size.
    """
    truth, pred = read_binary_mask(entry.truth), read_binary_mask(entry.prediction)
    if entry.image is not None:
        image = read_image(entry.image)[0]
    else:
        image = np.full((*truth.shape, 3), BLANK, np.uint8)
    sizes = {
        name: a.shape[:2] for name, a in (("image", image), ("truth", truth), ("prediction", pred))
    }
    if len(set(sizes.values())) > 1:
        shown = ", ".join(f"{name} {w}x{h}" for name, (h, w) in sizes.items())
        raise ValueError(f"{entry.key}: sizes differ ({shown}, width x height)")
    h, w = truth.shape
    scale = THUMBNAIL_SIDE / max(h, w)
    small = (max(1, round(h * scale)), max(1, round(w * scale)))
    thumbnail = _outlined(
        resize_image(image, small),
        resize_mask(truth.astype(np.uint8), small),
        resize_mask(pred.astype(np.uint8), small),
        width=2,
    )
    return _outlined(image, truth, pred), thumbnail


def write_pictures(entries: list[Entry], folder: Path, workers: int = 2) -> list[Pictures]:
    """Draw and write every entry's pictures into ``folder`` (``thumbs/``, ``full/``), JPEG."""
    (folder / "thumbs").mkdir(parents=True, exist_ok=True)
    (folder / "full").mkdir(parents=True, exist_ok=True)

    def one(item: tuple[int, Entry]) -> Pictures:
        index, entry = item
        full, thumbnail = draw(entry)
        stem = file_stem(index, entry)
        Image.fromarray(full).save(folder / "full" / f"{stem}.jpg", quality=90)
        Image.fromarray(thumbnail).save(folder / "thumbs" / f"{stem}.jpg", quality=85)
        return Pictures(
            f"{folder.name}/thumbs/{stem}.jpg",
            f"{folder.name}/full/{stem}.jpg",
            full.shape[1],
            full.shape[0],
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, enumerate(entries)))
