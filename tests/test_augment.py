from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from skinseg.data.augment import build_augmentation
from skinseg.data.dataset import ArraySegmentationDataset

CONF = Path(__file__).resolve().parents[1] / "conf" / "data" / "augment"


@pytest.mark.parametrize("name", ["none", "light", "standard", "strong"])
def test_augment_configs_keep_mask_aligned(name):
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    transform = build_augmentation(instantiate(cfg) if cfg else None)
    # The image's brightness carries the mask: after any geometric transform, they must agree.
    mask = np.zeros((64, 64), np.uint8)
    mask[10:30, 20:50] = 1
    image = np.repeat(mask[..., None] * 210 + 20, 3, axis=2).astype(np.uint8)
    ds = ArraySegmentationDataset(
        ["a"], [image], [mask], transform=transform, mean=(0, 0, 0), std=(1 / 255, 1 / 255, 1 / 255)
    )
    for _ in range(20):
        item = ds[0]
        gray = item["image"].numpy().mean(0)
        bright = gray > (gray.min() + gray.max()) / 2  # colour jitter moves both levels
        m = item["mask"][0].numpy() > 0.5
        assert item["mask"].shape == (1, 64, 64)
        assert set(np.unique(item["mask"].numpy())) <= {0.0, 1.0}
        # Interpolation and blur move the image's edge by a pixel or two; judge the rest.
        kernel = np.ones((5, 5), np.uint8)
        m8 = m.astype(np.uint8)
        band = cv2.dilate(m8, kernel).astype(bool) & ~cv2.erode(m8, kernel).astype(bool)
        agree = (bright == m)[~band].mean()
        assert agree > 0.99, f"{name}: mask and image disagree on {1 - agree:.1%} of pixels"


def test_build_augmentation_rejects_non_transforms():
    with pytest.raises(TypeError, match="albumentations"):
        build_augmentation([lambda x: x])
    assert isinstance(build_augmentation([A.HorizontalFlip()]), A.Compose)
    assert build_augmentation(None) is None
