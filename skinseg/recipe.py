"""The prediction contract: how an image becomes the network's input and its output a mask.

This module sits at the bottom of the package (it imports nothing of skinseg's) so that
training, inference, evaluation and reports all share it: the arithmetic that turns a file into
a training tensor is the arithmetic that turns a new image into a prediction input, and a mask
is thresholded, post-processed and drawn in one place. A :class:`Recipe` travels inside every
checkpoint and export; its threshold is the one threshold of a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace

import cv2
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Overlay colours wherever a truth and a prediction are drawn: blue and orange of the
# Okabe-Ito palette, which readers with red-green colour blindness (about 1 man in 12) tell
# apart, unlike green and red.
TRUTH_COLOUR = (0, 114, 178)
PREDICTION_COLOUR = (230, 159, 0)


@dataclass(frozen=True)
class Recipe:
    """How to turn an image into a mask as the model was trained to.

    Attributes:
        image_size: ``(H, W)`` the model sees; predictions are resized back to each image.
        mean, std: normalisation of 0..1 RGB values.
        threshold: probability above which a pixel is lesion.
        tta: average flips (and 90-degree rotations on square inputs) at test time.
        largest_component: keep only the largest connected lesion region.
        fill_holes: fill holes inside lesion regions.
    """

    image_size: tuple[int, int] = (256, 256)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    threshold: float = 0.5
    tta: bool = False
    largest_component: bool = False
    fill_holes: bool = False

    def __post_init__(self) -> None:
        size, mean, std = self.image_size, self.mean, self.std
        if not isinstance(size, Sequence) or len(size) != 2 or min(int(v) for v in size) < 1:
            raise ValueError(f"recipe image_size must be (H, W) of positive integers, got {size}")
        for name, value in (("mean", mean), ("std", std)):
            if not isinstance(value, Sequence) or len(value) != 3:
                raise ValueError(f"recipe {name} must be 3 numbers (R, G, B), got {value}")
        if min(float(v) for v in std) <= 0:
            raise ValueError(f"recipe std must be positive, got {list(std)}")
        if isinstance(self.threshold, bool) or not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"recipe threshold must be in [0, 1], got {self.threshold!r}")
        for name in ("tta", "largest_component", "fill_holes"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"recipe {name} must be true or false, got {getattr(self, name)!r}"
                )
        object.__setattr__(self, "image_size", (int(size[0]), int(size[1])))
        object.__setattr__(self, "mean", tuple(float(v) for v in mean))
        object.__setattr__(self, "std", tuple(float(v) for v in std))
        object.__setattr__(self, "threshold", float(self.threshold))

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_dict(cls, data: Mapping | None) -> Recipe:
        """Build from a config or stored dict.

        Raises:
            ValueError: an unknown key (a typo such as ``fill_hole``), naming the known ones,
                or a bad value.
        """
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.keys()))
        if unknown:
            raise ValueError(f"unknown recipe key(s) {unknown}; the recipe's keys are {cls.keys()}")
        return cls(**data)

    def to_dict(self) -> dict:
        """Plain data (lists, floats, bools): what checkpoints and exports store."""
        out = asdict(self)
        out["image_size"], out["mean"], out["std"] = (
            list(self.image_size),
            list(self.mean),
            list(self.std),
        )
        return out

    def with_threshold(self, threshold: float) -> Recipe:
        return replace(self, threshold=threshold)

    def input_array(self, image: np.ndarray) -> np.ndarray:
        """What the network sees of an RGB image: resized to :attr:`image_size`, normalised.

        Shape:
            image: (H, W, 3) uint8. Returns (3, h, w) float32.
        """
        return normalise(resize_image(image, self.image_size), self.mean, self.std)

    def to_mask(
        self, probs: np.ndarray, threshold: float | None = None, postprocess: bool = True
    ) -> np.ndarray:
        """A probability map as a {0, 1} uint8 mask: thresholded, then post-processed."""
        threshold = self.threshold if threshold is None else threshold
        mask = (probs > threshold).astype(np.uint8)
        if postprocess and self.largest_component:
            mask = largest_component(mask)
        if postprocess and self.fill_holes:
            mask = fill_holes(mask)
        return mask


# ------------------------------------------------------------------------------ images in
def _interpolation(shape: Sequence[int], size: Sequence[int]) -> int:
    """Area averaging when shrinking (no aliasing), bilinear otherwise."""
    return cv2.INTER_AREA if shape[0] >= size[0] and shape[1] >= size[1] else cv2.INTER_LINEAR


def resize_image(image: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """An RGB uint8 image resized to ``size = (H, W)``."""
    if tuple(image.shape[:2]) == tuple(size):
        return image
    h, w = size
    return cv2.resize(image, (w, h), interpolation=_interpolation(image.shape, size))


def resize_mask(mask: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """A {0, 1} mask resized to ``size = (H, W)`` as a coverage fraction thresholded at one
    half, which keeps thin borders better than nearest-neighbour sampling when shrinking 30 Mpx
    ISIC images."""
    if tuple(mask.shape[:2]) == tuple(size):
        return mask
    h, w = size
    cover = cv2.resize(
        mask.astype(np.float32), (w, h), interpolation=_interpolation(mask.shape, size)
    )
    return (cover >= 0.5).astype(np.uint8)


def normalise(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 (H, W, 3) RGB to the network's float32 (3, H, W) input.

    ``(x / 255 - mean) / std``, computed as ``(x - 255 mean) / (255 std)``: one home for this
    arithmetic, so that training and prediction inputs agree to the bit.
    """
    mean_255 = np.asarray(mean, np.float32) * 255.0
    inv_std_255 = 1.0 / (np.asarray(std, np.float32) * 255.0)
    x = (image.astype(np.float32) - mean_255) * inv_std_255
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def resize_probabilities(probs: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """A probability map at the model's size resized (bilinear) to an image's ``(H, W)``."""
    return cv2.resize(probs, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


# ----------------------------------------------------------------------------- masks out
def largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep the largest 8-connected foreground region of a {0, 1} mask."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    if count <= 2:
        return mask.astype(np.uint8)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == biggest).astype(np.uint8)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill background regions not connected to the image border."""
    m = mask.astype(np.uint8)
    h, w = m.shape
    padded = np.zeros((h + 2, w + 2), np.uint8)
    padded[1:-1, 1:-1] = m
    flood = padded.copy()
    cv2.floodFill(flood, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 1)
    holes = flood[1:-1, 1:-1] == 0
    return (m.astype(bool) | holes).astype(np.uint8)


def overlay(
    image: np.ndarray, mask: np.ndarray, colour=PREDICTION_COLOUR, alpha: float = 0.45
) -> np.ndarray:
    """Blend a {0, 1} mask over an RGB uint8 image, with its outline drawn solid.

    Shape:
        image: (H, W, 3) uint8; mask: (H, W). Returns (H, W, 3) uint8.
    """
    out = image.astype(np.float32)
    m = mask.astype(bool)
    out[m] = (1 - alpha) * out[m] + alpha * np.asarray(colour, np.float32)
    edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
    out[edge] = colour
    return out.astype(np.uint8)


def outlines(
    image: np.ndarray,
    masks: Sequence[tuple[np.ndarray, tuple[int, int, int]]],
    width: int | None = None,
) -> np.ndarray:
    """Draw the outline of each ``(mask, colour)`` over a copy of an RGB uint8 image, in order
    (the last on top): a truth and a prediction compared on one picture.

    ``width`` defaults to about 1/250 of the image's longer side (at least 2 pixels).

    Shape:
        image: (H, W, 3) uint8; each mask: (H, W). Returns (H, W, 3) uint8.
    """
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    width = width or max(2, round(max(image.shape[:2]) / 250))
    for mask, colour in masks:
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), width)
    return out
