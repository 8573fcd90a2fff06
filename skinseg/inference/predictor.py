"""Run a segmentation model on images of any size, at the resolution it was trained on."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from skinseg.recipe import Recipe, resize_probabilities

# A backend maps a normalised float32 batch (N, 3, H, W) to logits (N, 1, H, W).
Backend = Callable[[np.ndarray], np.ndarray]


def _tta_views(square: bool) -> list[tuple[Callable, Callable]]:
    """(forward, inverse) array transforms on the last two axes."""
    ident = (lambda a: a, lambda a: a)
    hflip = (lambda a: a[..., ::-1], lambda a: a[..., ::-1])
    vflip = (lambda a: a[..., ::-1, :], lambda a: a[..., ::-1, :])
    views = [ident, hflip, vflip, (lambda a: a[..., ::-1, ::-1], lambda a: a[..., ::-1, ::-1])]
    if square:
        views += [
            (lambda a: np.rot90(a, 1, (-2, -1)), lambda a: np.rot90(a, -1, (-2, -1))),
            (lambda a: np.rot90(a, -1, (-2, -1)), lambda a: np.rot90(a, 1, (-2, -1))),
        ]
    return views


class Predictor:
    """Preprocess, predict, resize back and post-process, following a :class:`Recipe`.

    Args:
        backend: the model (PyTorch, TorchScript or ONNX Runtime) as a function on arrays.
        recipe: how the model was trained to see images.
        name: what the model was loaded from, for messages.
    """

    def __init__(self, backend: Backend, recipe: Recipe, name: str = "model") -> None:
        self.backend, self.recipe, self.name = backend, recipe, name

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) -> normalised float32 (3, h, w), as training prepared its inputs."""
        return self.recipe.input_array(image)

    def probabilities_small(self, batch: np.ndarray, tta: bool) -> np.ndarray:
        """Sigmoid probabilities (N, h, w) at the model's resolution, TTA-averaged if asked."""
        views = _tta_views(batch.shape[-1] == batch.shape[-2]) if tta else _tta_views(False)[:1]
        total = np.zeros((batch.shape[0], *batch.shape[-2:]), np.float32)
        for forward, inverse in views:
            logits = self.backend(np.ascontiguousarray(forward(batch)))[:, 0]
            total += inverse(1.0 / (1.0 + np.exp(-logits.astype(np.float32))))
        return total / len(views)

    def predict(self, images: Sequence[np.ndarray], tta: bool | None = None) -> list[np.ndarray]:
        """Probability maps (float32, each image's own H x W) for a batch of RGB images."""
        tta = self.recipe.tta if tta is None else tta
        batch = np.stack([self.preprocess(im) for im in images])
        small = self.probabilities_small(batch, tta)
        return [resize_probabilities(p, im.shape[:2]) for p, im in zip(small, images, strict=True)]

    def to_mask(
        self, probs: np.ndarray, threshold: float | None = None, postprocess: bool = True
    ) -> np.ndarray:
        """Threshold a probability map into a {0, 1} mask and post-process it (the recipe's)."""
        return self.recipe.to_mask(probs, threshold, postprocess)
