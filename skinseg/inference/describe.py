"""What a model file says about itself: for ``GET /model`` and anyone who asks where a model
came from."""

from __future__ import annotations

from pathlib import Path

from skinseg.inference.loading import CHECKPOINT_KEY, read_checkpoint
from skinseg.inference.predictor import Predictor
from skinseg.inference.shipped import SUFFIX, file_sha256, read_info

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


def describe_shipped(path: str | Path) -> dict:
    """A ``.safetensors`` model (shipped, or exported by ``skinseg export``): the same keys as
    :func:`describe_checkpoint`, from its JSON, plus how it was made where the JSON says."""
    path = Path(path)
    info = read_info(path)
    described = {
        "file": path.name,
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "format": "safetensors",
        "dtype": info["dtype"],
        "recipe": info["recipe"],
        "model": info["net_config"],
        "training_data": info.get("training_data"),
        "epoch": info.get("epoch"),
    }
    for key in ("name", "training", "evaluation", "init_from"):
        if info.get(key):
            described[key] = info[key]
    return described


def describe_file(path: str | Path) -> dict:
    """:func:`describe_shipped` or :func:`describe_checkpoint`, by the file's suffix."""
    path = Path(path)
    return describe_shipped(path) if path.suffix == SUFFIX else describe_checkpoint(path)


def describe_model(path: str | Path, predictor: Predictor) -> dict:
    """:func:`describe_file` for checkpoints and ``.safetensors`` models; the file and the
    recipe the ``predictor`` runs for exports (ONNX, TorchScript)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == SUFFIX:
        return {**describe_shipped(path), "recipe": predictor.recipe.to_dict()}
    if suffix not in (".onnx", ".pt", ".ts", ".torchscript"):
        return {**describe_checkpoint(path), "recipe": predictor.recipe.to_dict()}
    return {
        "file": path.name,
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "format": "onnx" if suffix == ".onnx" else "torchscript",
        "recipe": predictor.recipe.to_dict(),
    }
