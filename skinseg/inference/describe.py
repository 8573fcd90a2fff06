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


def describe_checkpoint(path: str | Path, ckpt: dict | None = None) -> dict:
    """A training checkpoint's file (name, SHA-256, size), the network's config, its recipe
    and the data it was trained on (dataset, root, size, split seed and fold), and where its
    own weights came from (``init_from``) if it was fine-tuned. ``ckpt``: the file already read
    (weights only)."""
    path = Path(path)
    ckpt = read_checkpoint(path) if ckpt is None else ckpt
    meta = ckpt.get(CHECKPOINT_KEY) or {}
    data = ckpt.get("datamodule_hyper_parameters") or {}
    info = {
        "file": path.name,
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "format": "checkpoint",
        "recipe": meta.get("recipe"),
        "model": meta.get("net_config"),
        "training_data": {k: v for k, v in data.items() if k not in _PLUMBING},
        "epoch": ckpt.get("epoch"),
    }
    if meta.get("init_from"):
        info["init_from"] = meta["init_from"]
    return info


def describe_model(path: str | Path, predictor: Predictor) -> dict:
    """:func:`describe_checkpoint` for training checkpoints; the file and the recipe the
    ``predictor`` runs for exports (ONNX, TorchScript)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".onnx", ".pt", ".ts", ".torchscript"):
        return {**describe_checkpoint(path), "recipe": predictor.recipe.to_dict()}
    return {
        "file": path.name,
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "format": "onnx" if suffix == ".onnx" else "torchscript",
        "recipe": predictor.recipe.to_dict(),
    }
