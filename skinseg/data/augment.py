"""Albumentations pipelines: training augmentation from config, normalisation for every stage."""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_augmentation(transforms: Sequence | A.BasicTransform | None) -> A.Compose | None:
    """Compose a training augmentation.

    Args:
        transforms: an albumentations transform or Compose (as Hydra instantiates
            ``conf/data/augment/*.yaml``), a list of them, or None for no augmentation.
    """
    if transforms is None:
        return None
    if isinstance(transforms, A.Compose):
        return transforms
    if isinstance(transforms, A.BasicTransform):
        transforms = [transforms]
    transforms = list(transforms)
    for t in transforms:
        if not isinstance(t, A.BasicTransform | A.BaseCompose):
            raise TypeError(f"augmentation entries must be albumentations transforms, got {t!r}")
    return A.Compose(transforms)


def to_tensors(
    image: np.ndarray, mask: np.ndarray, mean: Sequence[float], std: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (H, W, 3) and {0, 1} (H, W) arrays to a normalised (3, H, W) and a (1, H, W) tensor."""
    mean_arr = np.asarray(mean, np.float32) * 255.0
    inv_std = 1.0 / (np.asarray(std, np.float32) * 255.0)
    x = (image.astype(np.float32) - mean_arr) * inv_std
    return (
        torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))),
        torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None],
    )
