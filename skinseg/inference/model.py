"""The Python API for notebooks and scripts: a model that takes an image and gives its mask.

    >>> from skinseg import load_model
    >>> model = load_model("isic2017")          # a shipped model, or a file
    >>> mask = model.predict("lesion.jpg")      # uint8 (H, W) of 0 and 1, the image's size

The masks are exactly those of ``skinseg predict`` (and ``skinseg serve``) for the same file
and model: the same decoding, recipe (resize, normalisation, TTA, threshold, post-processing)
and resizing back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skinseg.data.io import read_image
from skinseg.inference.describe import describe_model
from skinseg.inference.loading import load_predictor
from skinseg.inference.predictor import Predictor
from skinseg.recipe import Recipe


def as_image(image) -> np.ndarray:
    """An image for a model: a path (read as ``skinseg predict`` reads files: EXIF orientation,
    16-bit, grayscale, palette, RGBA and CMYK converted), a PIL image, or a uint8 array of
    shape (H, W, 3), (H, W, 4) (alpha dropped) or (H, W) (grayscale).

    Returns:
        uint8 (H, W, 3) RGB.

    Raises:
        TypeError: not a path, PIL image or array; an array that is not uint8.
        ValueError: an array of another shape.
        ImageReadError: a file that is missing or not an image.
    """
    if isinstance(image, str | Path):
        return read_image(image)[0]
    if hasattr(image, "convert") and hasattr(image, "mode"):  # a PIL image
        image = np.asarray(image.convert("RGB"))
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"expected an image path, a PIL image or a numpy array, got {type(image).__name__}"
        )
    if image.dtype != np.uint8:
        raise TypeError(
            f"expected a uint8 image array (0..255), got dtype {image.dtype}; for floats in "
            "[0, 1] pass (image * 255).round().astype(np.uint8)"
        )
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[..., :3])
    raise ValueError(
        f"expected an image array of shape (H, W, 3), (H, W, 4) or (H, W), got {image.shape}"
    )


class Model:
    """A loaded segmentation model (see :func:`load_model`).

    Attributes:
        name: the file it was loaded from.
        recipe: how it sees images (input size, threshold, TTA, post-processing).
        info: what the file says about itself (SHA-256, training data, ...), as ``GET /model``.
    """

    def __init__(self, predictor: Predictor, info: dict) -> None:
        self.predictor, self.info = predictor, info

    @property
    def name(self) -> str:
        return self.predictor.name

    @property
    def recipe(self) -> Recipe:
        return self.predictor.recipe

    def __repr__(self) -> str:
        sha = str(self.info.get("sha256", ""))[:12]
        return f"Model({Path(self.name).name!r}, sha256={sha!r}, recipe={self.recipe})"

    def probabilities(self, image, tta: bool | None = None) -> np.ndarray:
        """The lesion probability of each pixel, at the image's own size.

        Args:
            image: a path, PIL image or uint8 array (see :func:`as_image`).
            tta: test-time augmentation; None: as the recipe says.

        Returns:
            float32 (H, W) in [0, 1].
        """
        return self.predictor.predict([as_image(image)], tta)[0]

    def predict(
        self, image, tta: bool | None = None, threshold: float | None = None, scale: int = 1
    ) -> np.ndarray:
        """The lesion mask at the image's own size, post-processed as the recipe says.

        Args:
            image: a path, PIL image or uint8 array (see :func:`as_image`).
            tta: test-time augmentation; None: as the recipe says.
            threshold: probability above which a pixel is lesion; None: the recipe's.
            scale: the value of lesion pixels: 1 (a 0/1 mask, for arithmetic) or 255 (a 0/255
                mask, as ``skinseg predict`` writes it).

        Returns:
            uint8 (H, W) of 0 and ``scale``.

        Raises:
            ValueError: ``scale`` other than 1 or 255, or a threshold outside [0, 1].
        """
        if scale not in (1, 255):
            raise ValueError(f"scale must be 1 or 255, got {scale!r}")
        if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
        mask = self.predictor.to_mask(self.probabilities(image, tta), threshold)
        return mask.astype(np.uint8) * np.uint8(scale)


def load_model(model: str | Path = "isic2017", device: str = "auto", precision: str = "auto"):
    """A :class:`Model` from a shipped model's name (``skinseg models`` lists them) or a file:
    a training checkpoint (``best.ckpt``), a ``.safetensors`` model, an ONNX or TorchScript
    export. Checkpoints are read weights-only: a file cannot run code.

    Args:
        model: the name or the file.
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA where there is one).
        precision: ``auto`` (bf16 where it is measured faster on this machine), ``32`` or
            ``bf16``.

    Raises:
        FileNotFoundError: no such file or shipped model.
        ValueError: a file that is not a skinseg model.
    """
    predictor = load_predictor(model, device, precision)
    return Model(predictor, describe_model(predictor.name, predictor))
