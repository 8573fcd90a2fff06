"""The LightningModule that trains any skinseg architecture with any loss."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
from torch import nn
from torchmetrics import MaxMetric, MeanMetric

from skinseg.inference.loading import CHECKPOINT_KEY
from skinseg.metrics import segmentation_metrics
from skinseg.recipe import Recipe


class SegmentationModule(L.LightningModule):
    """Binary lesion segmentation: ``net`` maps images to logits, ``loss`` scores them.

    All parts are injected (by Hydra in ``train.py``): the module chooses no model and no loss.

    Args:
        net: an ``nn.Module`` returning ``(N, 1, H, W)`` logits.
        loss: an ``nn.Module`` taking logits and a float {0, 1} target.
        optimizer: a partial, called with the parameters (``_partial_: true`` in Hydra).
        scheduler: an optional partial, called with the optimizer.
        scheduler_interval: ``epoch`` or ``step``.
        net_config: the plain ``_target_`` config that built ``net``, stored in checkpoints so
            that prediction can rebuild it without the training code or config.
        recipe: the :class:`~skinseg.recipe.Recipe` (or its dict) prediction must repeat
            (image size, normalisation, threshold, TTA...), stored in checkpoints. Its
            threshold is also the metrics' threshold: a model has one threshold.
        channels_last: train in the channels-last memory format (faster on CPUs with AMX and on
            tensor-core GPUs).
        encoder_lr_scale: the encoder's learning rate as a fraction of the rest's (fine-tuning:
            below 1 keeps more of what the encoder learnt elsewhere).
        freeze_encoder_epochs: train only the decoder for this many first epochs (the encoder's
            weights and BatchNorm statistics fixed), then everything.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        scheduler_interval: str = "epoch",
        net_config: dict | None = None,
        recipe: Recipe | dict | None = None,
        channels_last: bool = False,
        encoder_lr_scale: float = 1.0,
        freeze_encoder_epochs: int = 0,
    ) -> None:
        super().__init__()
        if encoder_lr_scale <= 0 or freeze_encoder_epochs < 0:
            raise ValueError(
                f"encoder_lr_scale must be > 0 and freeze_encoder_epochs >= 0, got "
                f"{encoder_lr_scale} and {freeze_encoder_epochs}"
            )
        if (encoder_lr_scale != 1 or freeze_encoder_epochs) and not hasattr(
            net, "encoder_parameters"
        ):
            raise ValueError(
                f"{type(net).__name__} names no encoder: encoder_lr_scale and "
                "freeze_encoder_epochs need one"
            )
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(
                f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}"
            )
        # The recipe's home in a checkpoint is the "skinseg" entry (on_save_checkpoint), not the
        # hyperparameters, so that a threshold chosen after fitting has one place to go.
        self.save_hyperparameters(ignore=["net", "loss", "optimizer", "scheduler", "recipe"])
        self.recipe = recipe if isinstance(recipe, Recipe) else Recipe.from_dict(recipe)
        self.net, self.loss = net, loss
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.channels_last = channels_last
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.train_loss, self.val_loss, self.test_loss = MeanMetric(), MeanMetric(), MeanMetric()
        threshold = self.recipe.threshold
        self.val_metrics = segmentation_metrics(threshold, from_logits=True, prefix="val/")
        self.test_metrics = segmentation_metrics(threshold, from_logits=True, prefix="test/")
        self.val_iou_best = MaxMetric()
        # Where the initial weights came from (training.init_from), stored in checkpoints.
        self.init_from: dict | None = None
        # Per-source validation metrics (val_<name>/*) when the DataModule has several sources.
        self.source_names: list[str] = []
        self.source_metrics: nn.ModuleDict | None = None
        self._sources_seen: set[int] = set()

    def setup(self, stage: str) -> None:
        names = getattr(getattr(self.trainer, "datamodule", None), "source_names", None)
        if names and len(names) > 1 and self.source_metrics is None:
            self.source_names = list(names)
            self.source_metrics = nn.ModuleDict(
                {
                    n: segmentation_metrics(
                        self.recipe.threshold, from_logits=True, prefix=f"val_{n}/"
                    )
                    for n in names
                }
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def _step(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["image"]).float()  # loss in fp32 under mixed precision
        return self.loss(logits, batch["mask"]), logits

    def on_train_start(self) -> None:
        # Sanity-check validation must not count towards the best IoU.
        self.val_iou_best.reset()

    def on_train_epoch_start(self) -> None:
        if not self.hparams.freeze_encoder_epochs:
            return
        frozen = self.current_epoch < self.hparams.freeze_encoder_epochs
        for p in self.net.encoder_parameters():
            p.requires_grad_(not frozen)
        for module in self.net.encoder_modules():  # frozen: BatchNorm statistics kept too
            module.train(not frozen)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, _ = self._step(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"loss is {loss.item()} at epoch {self.current_epoch}, step {self.global_step}; "
                "lower the learning rate or check the data"
            )
        self.train_loss(loss.detach())
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss, logits = self._step(batch)
        self.val_loss(loss)
        self.val_metrics.update(logits, batch["mask"])
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        if self.source_metrics is not None and "source" in batch:
            for k in batch["source"].unique().tolist():
                chosen = batch["source"] == k
                self.source_metrics[self.source_names[k]].update(
                    logits[chosen], batch["mask"][chosen]
                )
                self._sources_seen.add(k)

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        iou = values.pop("val/iou")
        self.log_dict(values)
        self.log("val/iou", iou, prog_bar=True)
        self.val_iou_best(iou)
        self.log("val/iou_best", self.val_iou_best.compute(), prog_bar=True)
        for k in sorted(self._sources_seen):
            metrics = self.source_metrics[self.source_names[k]]
            self.log_dict(metrics.compute())
            metrics.reset()
        self._sources_seen.clear()

    def test_step(self, batch: dict, batch_idx: int) -> None:
        loss, logits = self._step(batch)
        self.test_loss(loss)
        self.test_metrics.update(logits, batch["mask"])
        self.log("test/loss", self.test_loss, on_step=False, on_epoch=True)

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()

    def predict_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return torch.sigmoid(self(batch["image"]).float())

    def parameter_groups(self) -> list[dict]:
        """One group, or with ``encoder_lr_scale`` the encoder's at that fraction of the
        optimizer's learning rate and the rest at the full rate."""
        scale = self.hparams.encoder_lr_scale
        if scale == 1:
            return [{"params": list(self.net.parameters())}]
        encoder = self.net.encoder_parameters()
        ids = {id(p) for p in encoder}
        rest = [p for p in self.net.parameters() if id(p) not in ids]
        return [{"params": encoder, "lr": self._base_lr() * scale}, {"params": rest}]

    def _base_lr(self) -> float:
        import inspect

        factory = self.optimizer_factory
        if "lr" in getattr(factory, "keywords", {}):
            return float(factory.keywords["lr"])
        default = inspect.signature(getattr(factory, "func", factory)).parameters["lr"].default
        return float(default)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameter_groups())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "interval": self.hparams.scheduler_interval,
                "monitor": "val/iou",
            },
        }

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Plain data only: what `skinseg predict` needs, loadable with weights_only=True.
        checkpoint[CHECKPOINT_KEY] = {
            "net_config": self.hparams.net_config,
            "recipe": self.recipe.to_dict(),
        }
        if self.init_from:
            checkpoint[CHECKPOINT_KEY]["init_from"] = self.init_from
