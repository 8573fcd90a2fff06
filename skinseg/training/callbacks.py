"""Lightning callbacks that show training progress to a person."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torchvision.utils import make_grid


def overlay(image: np.ndarray, mask: np.ndarray, colour=(0, 255, 0), alpha=0.45) -> np.ndarray:
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


class PredictionGrid(L.Callback):
    """Every ``every_n_epochs``, logs to TensorBoard one row per fixed validation image:
    the image, the truth overlaid (green) and the prediction overlaid (red).

    Args:
        every_n_epochs: how often to log.
        num_images: how many validation images (always the same ones).
    """

    def __init__(self, every_n_epochs: int = 5, num_images: int = 6) -> None:
        if every_n_epochs < 1 or num_images < 1:
            raise ValueError(
                f"every_n_epochs and num_images must be >= 1, got {every_n_epochs}, {num_images}"
            )
        self.every_n_epochs, self.num_images = every_n_epochs, num_images

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        datamodule = trainer.datamodule
        if not loggers or datamodule is None or "val" not in getattr(datamodule, "datasets", {}):
            return
        ds = datamodule.datasets["val"]
        n = min(self.num_images, len(ds))
        items = [ds[i] for i in range(n)]
        x = torch.stack([it["image"] for it in items]).to(pl_module.device)
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            probs = torch.sigmoid(pl_module(x).float()).cpu().numpy()[:, 0]
        pl_module.train(was_training)
        threshold = getattr(pl_module.hparams, "threshold", 0.5)
        tiles = []
        for i in range(n):
            image, truth = ds.images[i], ds.masks[i]
            pred = probs[i] > threshold
            for tile in (
                image,
                overlay(image, truth, (0, 255, 0)),
                overlay(image, pred, (255, 0, 0)),
            ):
                tiles.append(torch.from_numpy(tile).permute(2, 0, 1))
        grid = make_grid(torch.stack(tiles), nrow=3, padding=2, pad_value=255)
        for lg in loggers:
            lg.experiment.add_image("val/predictions", grid, global_step=trainer.current_epoch)
