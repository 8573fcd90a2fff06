"""Weight averaging for training runs."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import EMAWeightAveraging
from torch import Tensor


class WarmupDecay:
    """An EMA step whose decay grows with the number of updates ``n``:
    ``decay * (1 - decay**n) / (1 - decay**(n + 1))``.

    This is the bias-corrected EMA (as Adam corrects its moments): after ``n`` updates the
    average weighs the weights seen so far as a full-horizon EMA would, instead of carrying the
    random initialisation for ``1 / (1 - decay)`` steps; the decay reaches its set value
    within a few horizons (0.975 after 100 steps for 0.98).

    Args:
        decay: the decay the warm-up grows to.
    """

    def __init__(self, decay: float) -> None:
        self.decay = decay

    def __call__(self, averaged: Tensor, current: Tensor, num_averaged: Tensor) -> Tensor:
        n, d = float(num_averaged), self.decay
        decay = d * (1.0 - d**n) / (1.0 - d ** (n + 1.0))
        return averaged + (current - averaged) * (1.0 - decay)


class EMA(EMAWeightAveraging):
    """Exponential moving average of the weights, kept on the training device.

    Validation, checkpoints (and so ``best.ckpt`` and prediction) use the averaged weights.
    Lightning's callback places the average where the module is when fitting starts, which on
    a GPU run is still the CPU: every step would then copy the weights off the GPU.

    Args:
        decay: weight of the running average per optimizer step (horizon ~ 1 / (1 - decay)).
        update_starting_at_epoch: optionally start averaging later.
        warmup: let the decay grow with the step (:class:`WarmupDecay`) so that the average
            does not carry the random initialisation through the first epochs.
    """

    def __init__(
        self,
        decay: float = 0.999,
        update_starting_at_epoch: int | None = None,
        warmup: bool = False,
    ) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        super().__init__(decay=decay, update_starting_at_epoch=update_starting_at_epoch)
        if warmup:  # the averaged model is built from these arguments when fitting starts
            self._kwargs["avg_fn"] = WarmupDecay(decay)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._device is None:
            self._device = trainer.strategy.root_device
        super().setup(trainer, pl_module, stage)
