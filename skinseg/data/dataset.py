"""A torch ``Dataset`` over decoded, resized image/mask arrays held in memory."""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import numpy as np
import torch
from torch.utils.data import Dataset

from skinseg.recipe import IMAGENET_MEAN, IMAGENET_STD, normalise


class ArraySegmentationDataset(Dataset):
    """Items are ``{"image": (3, H, W) float, "mask": (1, H, W) float, "id": str}``.

    Args:
        ids, images, masks: parallel lists; images uint8 (H, W, 3), masks uint8 (H, W) {0, 1}.
        transform: albumentations pipeline applied to image and mask together (training only).
    """

    def __init__(
        self,
        ids: Sequence[str],
        images: Sequence[np.ndarray],
        masks: Sequence[np.ndarray],
        transform: A.Compose | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        if not len(ids) == len(images) == len(masks):
            raise ValueError(
                f"ids, images and masks differ in length: {len(ids)}, {len(images)}, {len(masks)}"
            )
        self.ids, self.images, self.masks = list(ids), list(images), list(masks)
        self.transform, self.mean, self.std = transform, mean, std

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        """An item by index, or by ``(index, seed)`` to fix its augmentation (see
        :class:`~skinseg.data.sampler.EpochSeededSampler`)."""
        seed = None
        if isinstance(index, tuple):
            index, seed = index
        image, mask = self.images[index], self.masks[index]
        if self.transform is not None:
            if seed is not None:
                self.transform.set_random_seed(seed)
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        # The same normalisation as prediction (skinseg.recipe): inputs agree to the bit.
        x = torch.from_numpy(normalise(image, self.mean, self.std))  # (3, H, W)
        y = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]  # (1, H, W)
        return {"image": x, "mask": y, "id": self.ids[index]}
