"""Checkpoint files: written atomically, and the recipe's threshold updated in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from skinseg.atomic import atomic_path
from skinseg.inference.loading import CHECKPOINT_KEY, read_checkpoint, stored_recipe


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file in the target folder, then renames it over the target, so a
    run killed while saving leaves the previous checkpoint whole."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


def store_threshold(checkpoint: Path, threshold: float) -> None:
    """Write ``threshold`` into a checkpoint's recipe, its one home (atomically).

    The checkpoint is read as a prediction reads it (weights only, nothing executed).
    """
    ckpt = read_checkpoint(Path(checkpoint))
    meta = ckpt[CHECKPOINT_KEY]
    meta["recipe"] = (
        stored_recipe(meta.get("recipe"), checkpoint).with_threshold(threshold).to_dict()
    )
    with atomic_path(checkpoint) as tmp:
        torch.save(ckpt, tmp)
