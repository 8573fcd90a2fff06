"""A callback that keeps every epoch's validation metrics, for ``metrics.json`` and reports."""

from __future__ import annotations

import math
import time

import lightning as L

TIME_KEY = "time_s"  # seconds of fitting up to the end of the epoch's validation


class MetricsHistory(L.Callback):
    """Records the ``val/*`` (and per-source ``val_<name>/*``) scalars, the epoch's mean
    training loss and the seconds of fitting so far (``time_s``, for time-to-quality curves)
    after each validation.

    It runs before the checkpoint callbacks save, so a checkpoint holds the history up to and
    including its own epoch, and a resumed run continues it. Testing or predicting from a
    checkpoint leaves the history as it is (Lightning restores callback state for every stage;
    only resuming a fit should rewind it).
    """

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []
        self._stage: str | None = None
        self._start = time.perf_counter()

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._stage = stage

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # A resumed run goes on counting from the time its checkpoint had reached.
        done = self.epochs[-1].get(TIME_KEY, 0.0) if self.epochs else 0.0
        self._start = time.perf_counter() - (done or 0.0)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Not on_validation_epoch_end: callbacks run before the module's hook logs the epoch.
        if trainer.sanity_checking:
            return
        row: dict[str, float] = {"epoch": trainer.current_epoch}
        for key, value in trainer.callback_metrics.items():
            if key.startswith("val"):  # val/* and, with several sources, val_<source>/*
                v = float(value)
                row[key] = v if math.isfinite(v) else None
        # Lightning logs the epoch's train/loss only after validation: read the running mean.
        train_loss = getattr(pl_module, "train_loss", None)
        if train_loss is not None and train_loss.update_called:
            v = float(train_loss.compute())
            row["train/loss"] = v if math.isfinite(v) else None
        row[TIME_KEY] = round(time.perf_counter() - self._start, 3)
        self.epochs.append(row)

    def state_dict(self) -> dict:
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict: dict) -> None:
        if self._stage in (None, "fit"):
            self.epochs = list(state_dict.get("epochs", []))

    def best(self, monitor: str = "val/iou") -> dict[str, float]:
        """The row of the epoch with the highest ``monitor``."""
        rows = [r for r in self.epochs if r.get(monitor) is not None]
        return max(rows, key=lambda r: r[monitor]) if rows else {}


def collapsed(history: list[dict], monitor: str = "val/iou") -> str | None:
    """Why a run's validation score collapsed, or None.

    A run collapses when it never learned (best below 0.05) or when its last epoch scores
    below half its best, as a learning rate far too high produces.
    """
    values = [h[monitor] for h in history if h.get(monitor) is not None]
    if not values:
        return None
    best, last = max(values), values[-1]
    if best < 0.05:
        return f"{monitor} never exceeded 0.05 (best {best:.3f})"
    if last < 0.5 * best:
        return f"{monitor} fell from its best {best:.3f} to {last:.3f} in the last epoch"
    return None


def without_times(history: list[dict]) -> list[dict]:
    """The history's metrics alone (what the same seed must reproduce; times differ)."""
    return [{k: v for k, v in row.items() if k != TIME_KEY} for row in history]
