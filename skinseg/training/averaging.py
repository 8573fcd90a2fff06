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
    within a few horizons (0.975 after 100 steps for 0.98). Over its first horizon it is close
    to the plain mean of every weight seen, the random start included.

    Args:
        decay: the decay the warm-up grows to.
    """

    def __init__(self, decay: float) -> None:
        self.decay = decay

    def decay_at(self, n: float) -> float:
        d = self.decay
        return d * (1.0 - d**n) / (1.0 - d ** (n + 1.0))

    def __call__(self, averaged: Tensor, current: Tensor, num_averaged: Tensor) -> Tensor:
        decay = self.decay_at(float(num_averaged))
        return averaged + (current - averaged) * (1.0 - decay)


class PowerWarmupDecay(WarmupDecay):
    """timm's EMA warm-up (``ModelEmaV3``): ``min(decay, 1 - (1 + n) ** -power)``.

    The horizon ``1 / (1 - decay)`` grows as ``(1 + n) ** power``, slower than the number of
    steps, so the average forgets its random start within a fraction of the steps done (a
    horizon of 5 steps after 8, 27 after 80) and reaches the set decay after
    ``(1 / (1 - decay)) ** (1 / power) - 1`` updates (184 for 0.98 with power 3/4).

    Args:
        decay: the decay the warm-up grows to.
        power: exponent of the horizon's growth, in (0, 1]; timm uses 3/4 for short runs and
            2/3 for runs of a million steps.
    """

    def __init__(self, decay: float, power: float = 0.75) -> None:
        if not 0.0 < power <= 1.0:
            raise ValueError(f"EMA warm-up power must be in (0, 1], got {power}")
        super().__init__(decay)
        self.power = power

    def decay_at(self, n: float) -> float:
        return min(self.decay, 1.0 - (1.0 + n) ** -self.power)


# callbacks.ema.warmup: each schedule by name, built from (decay, warmup_power); true is the
# first one added (kept for the recorded commands of earlier runs, e.g. the shipped isic2017).
WARMUPS = {
    "bias": lambda decay, power: WarmupDecay(decay),
    "power": PowerWarmupDecay,
}


class EMA(EMAWeightAveraging):
    """Exponential moving average of the weights, kept on the training device.

    Validation, checkpoints (and so ``best.ckpt`` and prediction) use the averaged weights.
    Lightning's callback places the average where the module is when fitting starts, which on
    a GPU run is still the CPU: every step would then copy the weights off the GPU.

    Args:
        decay: weight of the running average per optimizer step (horizon ~ 1 / (1 - decay)).
        update_starting_at_epoch: optionally start averaging later.
        warmup: let the decay grow with the step so that the average does not carry the
            random initialisation through the first epochs: ``"power"``
            (:class:`PowerWarmupDecay`, timm's), ``"bias"`` or ``true`` (:class:`WarmupDecay`,
            bias-corrected), ``false`` (a fixed decay from the first step).
        warmup_power: the exponent of the ``"power"`` warm-up.
    """

    def __init__(
        self,
        decay: float = 0.999,
        update_starting_at_epoch: int | None = None,
        warmup: bool | str = False,
        warmup_power: float = 0.75,
    ) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        if warmup is True:
            warmup = "bias"
        if warmup is not False and warmup not in WARMUPS:
            raise ValueError(
                f"callbacks.ema.warmup must be false, true or one of {sorted(WARMUPS)}, "
                f"got {warmup!r}"
            )
        super().__init__(decay=decay, update_starting_at_epoch=update_starting_at_epoch)
        if warmup:  # the averaged model is built from these arguments when fitting starts
            self._kwargs["avg_fn"] = WARMUPS[warmup](decay, warmup_power)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._device is None:
            self._device = trainer.strategy.root_device
        super().setup(trainer, pl_module, stage)
