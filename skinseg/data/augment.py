"""Albumentations pipelines: the training augmentation, composed from config."""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A


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
