"""Shared fixtures: small datasets written in each supported layout."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skinseg.data.synthetic import generate_sample

from .browser import browser, page  # noqa: F401  (fixtures)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# The bf16 probe behind precision "auto" caches its result: once per test session, not in the
# user's home (child processes such as train.py runs inherit it).
os.environ.setdefault("SKINSEG_CACHE_DIR", tempfile.mkdtemp(prefix="skinseg-test-cache-"))


def write_pair(image_path: Path, mask_path: Path, index: int, size=(40, 48), mask_scale=255):
    """Write synthetic image ``index`` and its mask to the given paths (format by suffix)."""
    image, mask = generate_sample(index, seed=123, size=size)
    image_path.parent.mkdir(parents=True, exist_ok=True)
    mask_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(image_path)
    Image.fromarray((mask * mask_scale).astype(np.uint8)).save(mask_path)
    return image, mask


@pytest.fixture
def ph2_root(tmp_path) -> Path:
    """A PH2-layout folder with 12 cases (4 per diagnosis) and a PH2_dataset.xlsx."""
    import openpyxl

    root = tmp_path / "PH2Dataset"
    ids = [f"IMD{i:03d}" for i in range(2, 14)]
    for n, cid in enumerate(ids):
        case = root / "PH2 Dataset images" / cid
        write_pair(
            case / f"{cid}_Dermoscopic_Image" / f"{cid}.bmp",
            case / f"{cid}_lesion" / f"{cid}_lesion.bmp",
            n,
        )
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([None, None, "Clinical Diagnosis"])
    ws.append(
        [
            "Image Name",
            "Histological Diagnosis",
            "Common Nevus",
            "Atypical Nevus",
            "Melanoma",
            "Asymmetry",
        ]
    )
    for n, cid in enumerate(ids):
        row = [cid, None, None, None, None, 0]
        row[2 + n % 3] = "X"
        ws.append(row)
    wb.save(root / "PH2_dataset.xlsx")
    return root


@pytest.fixture
def folder_root(tmp_path) -> Path:
    """A plain images/ + masks/ folder with 10 PNG pairs."""
    root = tmp_path / "folder"
    for i in range(10):
        write_pair(
            root / "images" / f"case{i:02d}.png", root / "masks" / f"case{i:02d}_mask.png", i
        )
    return root


def make_isic(root: Path, edition: str, counts: dict[str, int], size=(40, 48)) -> Path:
    """An ISIC-layout folder with ``counts[split]`` JPEG/PNG pairs per official split."""
    from skinseg.data.layouts import ISIC_LAYOUTS

    n = 0
    for split, count in counts.items():
        images, masks, suffix = ISIC_LAYOUTS[edition][split]
        for _ in range(count):
            sid = f"ISIC_{n:07d}"
            write_pair(root / images / f"{sid}.jpg", root / masks / f"{sid}{suffix}.png", n, size)
            n += 1
    return root


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory) -> Path:
    """A real checkpoint from train() on tiny synthetic data (2 epochs)."""
    from skinseg.training.run import train

    from .training_helpers import compose_config

    out = tmp_path_factory.mktemp("run")
    train(compose_config(["model=unet2", "trainer.max_epochs=2", "logger=none"], out))
    return out / "checkpoints" / "best.ckpt"
