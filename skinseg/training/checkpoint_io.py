"""Checkpoints written atomically, so a run killed while saving leaves the previous one whole."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.plugins.io import TorchCheckpointIO

from skinseg.atomic import atomic_path


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file in the target folder, then renames it over the target."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)
