"""What a model file says about itself: for ``GET /model`` and anyone who asks where a model
came from."""

from __future__ import annotations

import hashlib
from pathlib import Path

from skinseg.inference.loading import CHECKPOINT_KEY, read_checkpoint
from skinseg.inference.predictor import Predictor

# DataModule settings that say how data was loaded, not what it was.
_PLUMBING = {
    "batch_size",
    "num_workers",
    "pin_memory",
    "persistent_workers",
    "cache_dir",
    "cache_budget_mb",
    "split_output",
}


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_model(path: str | Path, predictor: Predictor) -> dict:
    """The file (name, SHA-256, size), its recipe, and for training checkpoints the network's
    config and the data it was trained on (dataset, root, size, split seed and fold)."""
    path = Path(path)
    info: dict = {
        "file": path.name,
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "format": {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript"}.get(
            path.suffix.lower(), "checkpoint"
        ),
        "recipe": predictor.recipe.to_dict(),
    }
    if info["format"] == "checkpoint":
        ckpt = read_checkpoint(path)
        info["model"] = (ckpt.get(CHECKPOINT_KEY) or {}).get("net_config")
        data = ckpt.get("datamodule_hyper_parameters") or {}
        info["training_data"] = {k: v for k, v in data.items() if k not in _PLUMBING}
        info["epoch"] = ckpt.get("epoch")
    return info
