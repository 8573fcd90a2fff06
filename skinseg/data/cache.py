"""Decode-and-resize once: an optional on-disk cache keyed by file content and target size."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from skinseg.atomic import atomic_path
from skinseg.data.io import read_image, read_mask
from skinseg.data.layouts import GeneratedSample, Sample
from skinseg.recipe import resize_image, resize_mask

CACHE_VERSION = "1"


def _digest(sample: Sample, size: tuple[int, int] | None) -> str:
    h = hashlib.sha1(CACHE_VERSION.encode())
    h.update(repr(tuple(size) if size else None).encode())
    for path in (sample.image, sample.mask):
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):  # noqa: B023
                h.update(chunk)
    return h.hexdigest()


def load_pair(
    sample: Sample | GeneratedSample,
    size: tuple[int, int] | None,
    cache_dir: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode, check and resize one sample, through the disk cache when one is given
    (generated samples are made at ``size`` directly, never cached).

    Returns:
        ``(image, mask, notes)``: uint8 (H, W, 3), uint8 (H, W) in {0, 1}, conversion notes.

    Raises:
        skinseg.data.io.ImageReadError: unreadable image or mask, or non-binary mask.
        ValueError: image and mask sizes differ.
    """
    if isinstance(sample, GeneratedSample):
        if size is None:
            raise ValueError(f"{sample.id}: generated samples need a size")
        return *sample.generate(size), []
    entry = None
    if cache_dir is not None:
        entry = Path(cache_dir) / f"{_digest(sample, size)}.npz"
        if entry.is_file():
            try:
                with np.load(entry) as data:
                    return data["image"], data["mask"], []
            except (OSError, ValueError, KeyError):
                pass  # a damaged entry is rebuilt below
    image, image_notes = read_image(sample.image)
    mask, mask_notes = read_mask(sample.mask)
    if image.shape[:2] != mask.shape:
        raise ValueError(
            f"{sample.id}: image {sample.image} is {image.shape[1]}x{image.shape[0]} but mask "
            f"{sample.mask} is {mask.shape[1]}x{mask.shape[0]} (width x height)"
        )
    if size is not None:  # through the functions prediction uses (skinseg.recipe)
        image, mask = resize_image(image, size), resize_mask(mask, size)
    if entry is not None:
        with atomic_path(entry) as tmp, open(tmp, "wb") as f:
            np.savez(f, image=image, mask=mask)
    notes = [f"image {n}" for n in image_notes] + [f"mask {n}" for n in mask_notes]
    return image, mask, notes
