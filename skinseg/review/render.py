"""The review's pictures: each image with its truth and prediction(s) outlined, full size, the
plain image (for the page's outline toggle), and a lesion-centred thumbnail."""

from __future__ import annotations

import re
from collections.abc import Sequence
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
MARGIN = 0.25  # around the lesion box in a thumbnail, as a fraction of the box's longer side
MIN_MARGIN = 8  # pixels


@dataclass(frozen=True)
class Pictures:
    """Where one image's pictures were written (relative to the review's folder), the full
    picture's size, the thumbnails' crop box and each prediction's area ratio.

    Attributes:
        thumbnails, fulls: one per prediction (two in a comparison), in order.
        plain: the image without outlines, full size.
        crop: ``[x0, y0, x1, y1]`` (x1, y1 exclusive) of the image the thumbnails show.
        area_ratios: predicted / true lesion area per prediction; None where the truth is
            empty and the prediction is not.
    """

    thumbnails: tuple[str, ...]
    fulls: tuple[str, ...]
    plain: str
    width: int
    height: int
    crop: tuple[int, int, int, int]
    area_ratios: tuple[float | None, ...]


@dataclass(frozen=True)
class Drawn:
    """The arrays behind :class:`Pictures`."""

    fulls: list[np.ndarray]
    plain: np.ndarray
    thumbnails: list[np.ndarray]
    crop: tuple[int, int, int, int]
    area_ratios: list[float | None]


def file_stem(index: int, entry: Entry) -> str:
    """A file name for an entry's pictures: unique (its position) and readable (its key)."""
    return f"{index:05d}_" + re.sub(r"[^A-Za-z0-9._-]+", "_", entry.key)[:80]


def lesion_box(masks: Sequence[np.ndarray]) -> tuple[int, int, int, int]:
    """The box ``[x0, y0, x1, y1)`` around the union of ``masks`` with a margin of
    :data:`MARGIN` of its longer side (at least :data:`MIN_MARGIN` pixels), inside the image;
    the whole image where every mask is empty."""
    h, w = masks[0].shape
    union = np.zeros((h, w), bool)
    for m in masks:
        union |= m.astype(bool)
    ys, xs = np.nonzero(union)
    if xs.size == 0:
        return 0, 0, w, h
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    pad = max(MIN_MARGIN, round(MARGIN * max(x1 - x0, y1 - y0)))
    return max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)


def area_ratio(pred: np.ndarray, truth: np.ndarray) -> float | None:
    """Predicted / true lesion area: above 1 over-segmented, below 1 under-segmented (1.0 when
    both are empty, None when only the truth is)."""
    true_area, pred_area = int(truth.sum()), int(pred.sum())
    if true_area == 0:
        return 1.0 if pred_area == 0 else None
    return pred_area / true_area


def _outlined(image: np.ndarray, truth: np.ndarray, pred: np.ndarray, width=None) -> np.ndarray:
    return outlines(image, [(truth, TRUTH_COLOUR), (pred, PREDICTION_COLOUR)], width)


def draw(entry: Entry, others: Sequence[Entry] = ()) -> Drawn:
    """The pictures of an entry (and of the same image in ``others``: other evaluations'
    predictions, outlined with the same truth and thumbnailed with the same crop).

    Raises:
        ValueError: the image, truth and predictions differ in size.
    """
    truth = read_binary_mask(entry.truth)
    preds = [read_binary_mask(e.prediction) for e in (entry, *others)]
    if entry.image is not None:
        image = read_image(entry.image)[0]
    else:
        image = np.full((*truth.shape, 3), BLANK, np.uint8)
    sizes = {"image": image.shape[:2], "truth": truth.shape}
    sizes.update({f"prediction {i + 1}": p.shape for i, p in enumerate(preds)})
    if len(set(sizes.values())) > 1:
        shown = ", ".join(f"{name} {w}x{h}" for name, (h, w) in sizes.items())
        raise ValueError(f"{entry.key}: sizes differ ({shown}, width x height)")
    x0, y0, x1, y1 = crop = lesion_box([truth, *preds])
    scale = THUMBNAIL_SIDE / max(y1 - y0, x1 - x0)
    small = (max(1, round((y1 - y0) * scale)), max(1, round((x1 - x0) * scale)))
    small_image = resize_image(np.ascontiguousarray(image[y0:y1, x0:x1]), small)

    def shrink(mask: np.ndarray) -> np.ndarray:
        return resize_mask(np.ascontiguousarray(mask[y0:y1, x0:x1]).astype(np.uint8), small)

    small_truth = shrink(truth)
    return Drawn(
        fulls=[_outlined(image, truth, p) for p in preds],
        plain=image,
        thumbnails=[_outlined(small_image, small_truth, shrink(p), width=2) for p in preds],
        crop=crop,
        area_ratios=[area_ratio(p, truth) for p in preds],
    )


def write_pictures(
    groups: Sequence[Sequence[Entry]], folder: Path, workers: int = 2
) -> list[Pictures]:
    """Draw and write the pictures of each group (one entry per evaluation of an image) into
    ``folder`` (``thumbs/``, ``full/``, ``plain/``), JPEG."""
    for name in ("thumbs", "full", "plain"):
        (folder / name).mkdir(parents=True, exist_ok=True)

    def one(item: tuple[int, Sequence[Entry]]) -> Pictures:
        index, group = item
        drawn = draw(group[0], group[1:])
        stem = file_stem(index, group[0])
        names = [stem] if len(group) == 1 else [f"{stem}_{i + 1}" for i in range(len(group))]
        thumbs, fulls = [], []
        for name, full, thumb in zip(names, drawn.fulls, drawn.thumbnails, strict=True):
            Image.fromarray(full).save(folder / "full" / f"{name}.jpg", quality=90)
            Image.fromarray(thumb).save(folder / "thumbs" / f"{name}.jpg", quality=85)
            fulls.append(f"{folder.name}/full/{name}.jpg")
            thumbs.append(f"{folder.name}/thumbs/{name}.jpg")
        Image.fromarray(drawn.plain).save(folder / "plain" / f"{stem}.jpg", quality=90)
        return Pictures(
            tuple(thumbs),
            tuple(fulls),
            f"{folder.name}/plain/{stem}.jpg",
            drawn.plain.shape[1],
            drawn.plain.shape[0],
            drawn.crop,
            tuple(drawn.area_ratios),
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, enumerate(groups)))
