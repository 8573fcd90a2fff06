"""Lightning callbacks that show training progress to a person."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torchvision.utils import make_grid

from skinseg.recipe import PREDICTION_COLOUR, TRUTH_COLOUR, overlay


class PredictionGrid(L.Callback):
    """Every ``every_n_epochs``, logs to TensorBoard one row per fixed validation image:
    the image, the truth overlaid and the prediction overlaid, the prediction made as shipped
    (the module's recipe: its threshold and post-processing).

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
        tiles = []
        for i in range(n):
            image, truth = ds.images[i], ds.masks[i]
            pred = pl_module.recipe.to_mask(probs[i])
            for tile in (
                image,
                overlay(image, truth, TRUTH_COLOUR),
                overlay(image, pred, PREDICTION_COLOUR),
            ):
                tiles.append(torch.from_numpy(tile).permute(2, 0, 1))
        grid = make_grid(torch.stack(tiles), nrow=3, padding=2, pad_value=255)
        for lg in loggers:
            lg.experiment.add_image("val/predictions", grid, global_step=trainer.current_epoch)
