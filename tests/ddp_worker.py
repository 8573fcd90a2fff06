"""Validate one fixed model with 1 process and with 2 CPU processes (DDP, gloo); print both.

Run as a script by tests/test_scaleout.py: DDP spawns processes, which pytest's own process
should not host.
"""

import json
import sys
import tempfile
from functools import partial

import lightning as L
import torch

from skinseg.data import SkinLesionDataModule
from skinseg.losses import BCELoss
from skinseg.models import UNet
from skinseg.training.module import SegmentationModule


def build():
    L.seed_everything(0)
    dm = SkinLesionDataModule(
        "synthetic",
        num_synthetic=40,
        image_size=(32, 32),
        batch_size=2,
        val_fraction=0.2,
        test_fraction=0.0,
        num_workers=0,
    )
    module = SegmentationModule(
        UNet(base_width=4, depth=2),
        BCELoss(),
        optimizer=partial(torch.optim.AdamW, lr=1e-3),
    )
    return dm, module


def validate(devices: int, weights: str, strategy: str = "auto") -> dict:
    dm, module = build()
    module.load_state_dict(torch.load(weights, weights_only=True))
    trainer = L.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy=strategy,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return {
        k: float(v) for k, v in trainer.validate(module, datamodule=dm, verbose=False)[0].items()
    }


if __name__ == "__main__":
    # A few epochs first, so that the validated model segments something.
    dm, module = build()
    L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=4,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    ).fit(module, datamodule=dm)
    with tempfile.TemporaryDirectory() as tmp:
        weights = f"{tmp}/weights.pt"
        torch.save(module.state_dict(), weights)
        one = validate(1, weights)
        two = validate(2, weights, "ddp_spawn")
    print("RESULT " + json.dumps({"one": one, "two": two}))
    sys.exit(0)
