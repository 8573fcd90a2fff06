"""Weight averaging for training runs."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import EMAWeightAveraging


class EMA(EMAWeightAveraging):
    """Exponential moving average of the weights, kept on the training device.

    Validation, checkpoints (and so ``best.ckpt`` and prediction) use the averaged weights.
    Lightning's callback places the average where the module is when fitting starts, which on
    a GPU run is still the CPU: every step would then copy the weights off the GPU.

    Args:
        decay: weight of the running average per optimizer step (horizon ~ 1 / (1 - decay)).
        update_starting_at_epoch: optionally start averaging later.
    """

    def __init__(self, decay: float = 0.999, update_starting_at_epoch: int | None = None) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        super().__init__(decay=decay, update_starting_at_epoch=update_starting_at_epoch)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._device is None:
            self._device = trainer.strategy.root_device
        super().setup(trainer, pl_module, stage)
