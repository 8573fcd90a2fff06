"""Load a model for prediction from a checkpoint, a ``.safetensors`` model (shipped models
are these, ``skinseg.inference.shipped``), an ONNX file or a TorchScript file.

Checkpoints are read with ``torch.load(weights_only=True)``: tensors and plain data only, so a
crafted checkpoint cannot run code. The network is rebuilt from its stored config, whose
``_target_`` must name one of skinseg's registered models.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from skinseg.hardware import fast_bf16, fast_channels_last
from skinseg.inference import shipped
from skinseg.inference.nets import CheckpointError, build_net, stored_recipe
from skinseg.inference.predictor import Predictor
from skinseg.recipe import Recipe

log = logging.getLogger(__name__)

RECIPE_KEY = "skinseg.recipe"  # the recipe's name in ONNX metadata and TorchScript extras
# A training checkpoint's own entry: {"net_config": ..., "recipe": ...}, plain data only.
CHECKPOINT_KEY = "skinseg"


def read_checkpoint(path: Path) -> dict:
    """``torch.load`` with ``weights_only=True``, errors turned into :class:`CheckpointError`."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for crafted files, RuntimeError for non-zip...
        if path.is_file() and path.stat().st_size == 0:
            raise CheckpointError(f"{path}: the file is empty, not a checkpoint") from exc
        first_line = next(iter(str(exc).splitlines()), "")[:300]
        raise CheckpointError(
            f"{path}: refused or unreadable as a safe (weights-only) checkpoint: "
            f"{type(exc).__name__}: {first_line}"
        ) from exc


def load_net_from_checkpoint(path: str | Path) -> tuple[nn.Module, Recipe]:
    """The network (eval mode, CPU) and recipe stored in a training checkpoint."""
    path = Path(path)
    ckpt = read_checkpoint(path)
    meta = ckpt.get(CHECKPOINT_KEY) if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or "state_dict" not in ckpt:
        raise CheckpointError(
            f"{path}: not a skinseg training checkpoint (no {CHECKPOINT_KEY!r} entry)"
        )
    net = build_net(meta.get("net_config"), str(path))
    state = {k[len("net.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the stored model config: {exc}") from exc
    return net.eval(), stored_recipe(meta.get("recipe"), path)


def load_net(path: str | Path) -> tuple[nn.Module, Recipe]:
    """The network and recipe of a training checkpoint or a ``.safetensors`` model (a shipped
    one, or ``skinseg export --format safetensors``), by the file's suffix."""
    path = Path(path)
    if path.suffix == shipped.SUFFIX:
        return shipped.load_net(path)
    return load_net_from_checkpoint(path)


def save_net_checkpoint(net: nn.Module, net_config: dict, recipe: dict, path: str | Path) -> Path:
    """The smallest file :func:`load_net_from_checkpoint` reads: a network's weights, its
    ``_target_`` config and a recipe, in the layout training writes (no optimizer state).
    For benchmarks, tests and weights made outside skinseg's training."""
    stored_recipe(recipe, path)  # refuse a bad recipe before writing
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            CHECKPOINT_KEY: {"net_config": dict(net_config), "recipe": dict(recipe)},
        },
        path,
    )
    return Path(path)


def torch_backend(net: nn.Module, device: str = "cpu", precision: str = "auto"):
    """Run ``net`` channels-last where that is measured faster here
    (:func:`skinseg.hardware.fast_channels_last`), under bf16 autocast when ``precision`` asks
    for it (``auto``:
    where bf16 is measured to be fast here, :func:`skinseg.hardware.fast_bf16`; about 4x faster
    on an AMX CPU, masks differ only at a few border pixels).

    Raises:
        ValueError: an unknown ``precision``.
    """
    if precision not in ("auto", "32", "bf16"):
        raise ValueError(f"precision must be 'auto', '32' or 'bf16', got {precision!r}")
    bf16 = precision == "bf16" or (precision == "auto" and fast_bf16(device))
    if precision == "auto":
        log.info("precision auto on %s: %s", device, "bf16 autocast" if bf16 else "fp32")
    kind = "cuda" if device.startswith("cuda") else "cpu"
    fmt = torch.channels_last if fast_channels_last(device, bf16) else torch.contiguous_format
    net = net.to(device).eval()
    if isinstance(net, nn.Module) and not isinstance(net, torch.jit.ScriptModule):
        net = net.to(memory_format=fmt)

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), torch.autocast(kind, torch.bfloat16, enabled=bf16):
            x = torch.from_numpy(batch).to(device).contiguous(memory_format=fmt)
            return net(x).float().cpu().numpy()

    return run


def onnx_backend(path: Path, device: str = "cpu"):
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise CheckpointError(
            f"{path}: ONNX models need onnxruntime: pip install 'skinseg[onnx]'"
        ) from exc
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = ort.InferenceSession(str(path), providers=providers)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a loadable ONNX model ({exc})") from exc
    meta = session.get_modelmeta().custom_metadata_map
    if RECIPE_KEY not in meta:
        raise CheckpointError(
            f"{path}: ONNX model has no {RECIPE_KEY} metadata (not a skinseg export)"
        )
    name = session.get_inputs()[0].name

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {name: batch.astype(np.float32)})[0]

    return run, stored_recipe(json.loads(meta[RECIPE_KEY]), path)


def torchscript_backend(path: Path, device: str = "cpu", precision: str = "auto"):
    files = {RECIPE_KEY: ""}
    try:
        module = torch.jit.load(str(path), map_location=device, _extra_files=files)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a loadable TorchScript model ({exc})") from exc
    if not files[RECIPE_KEY]:
        raise CheckpointError(
            f"{path}: TorchScript model has no {RECIPE_KEY} (not a skinseg export)"
        )
    return (
        torch_backend(module, device, precision),
        stored_recipe(json.loads(files[RECIPE_KEY]), path),
    )


def resolve_device(device: str | None) -> str:
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available")
    return device


def load_predictor(
    path: str | Path, device: str | None = None, precision: str = "auto"
) -> Predictor:
    """A :class:`Predictor` for a ``.ckpt`` checkpoint, a ``.safetensors`` model, an ``.onnx``
    or a TorchScript file, or a shipped model by name (``isic2017``).

    ``precision`` (``auto``, ``32``, ``bf16``) applies to PyTorch and TorchScript models; ONNX
    models run in the precision they were exported in.
    """
    path = shipped.resolve_model(path)
    device = resolve_device(device)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        backend, recipe = onnx_backend(path, device)
    elif suffix in (".pt", ".ts", ".torchscript"):
        backend, recipe = torchscript_backend(path, device, precision)
    else:
        net, recipe = load_net(path)
        backend = torch_backend(net, device, precision)
    return Predictor(backend, recipe, name=str(path))
