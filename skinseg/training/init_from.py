"""Starting a new run from the weights of another: ``init_from=PATH`` (fine-tuning).

Unlike ``ckpt_path``, which resumes a run (optimizer, schedule, epoch), ``init_from`` only
copies network weights into a freshly built network; the new run has its own optimizer,
schedule and epoch counter. The file is read as prediction reads it (weights only, nothing
executed), and what it was (its hash, its own training data and recipe) travels on in the new
run's ``metrics.json`` and checkpoints.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from skinseg.inference import shipped
from skinseg.inference.describe import describe_checkpoint, describe_shipped
from skinseg.inference.loading import CHECKPOINT_KEY, read_checkpoint
from skinseg.training.errors import ConfigError

log = logging.getLogger(__name__)


class InitError(ConfigError):
    """The weights cannot start this run (not a skinseg checkpoint, another architecture)."""


def _shape(t: torch.Tensor) -> list[int]:
    return list(t.shape)


def compare_weights(net: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, list]:
    """What differs between a network and a state dict: ``missing`` (the network's tensors the
    file lacks), ``unexpected`` (the file's tensors the network lacks) and ``mismatched``
    (``[name, file shape, network shape]``)."""
    own = net.state_dict()
    return {
        "missing": sorted(set(own) - set(state)),
        "unexpected": sorted(set(state) - set(own)),
        "mismatched": [
            [k, _shape(state[k]), _shape(own[k])]
            for k in sorted(set(own) & set(state))
            if state[k].shape != own[k].shape
        ],
    }


def _listing(differences: dict[str, list], limit: int = 8) -> str:
    lines = []
    for kind, items in differences.items():
        if not items:
            continue
        shown = [
            f"{i[0]} (file {i[1]}, model {i[2]})" if kind == "mismatched" else i
            for i in items[:limit]
        ]
        more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
        lines.append(f"{len(items)} {kind}: {', '.join(shown)}{more}")
    return "; ".join(lines)


def _read_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """A model file's network tensors and :mod:`~skinseg.inference.describe` description."""
    if path.suffix == shipped.SUFFIX:
        state, _ = shipped.load_state(path)
        return state, describe_shipped(path)
    ckpt = read_checkpoint(path)
    if not isinstance(ckpt, dict) or CHECKPOINT_KEY not in ckpt or "state_dict" not in ckpt:
        raise InitError(f"{path} is not a skinseg training checkpoint")
    state = {k[len("net.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    return state, describe_checkpoint(path, ckpt)


def _is_shipped(path: Path) -> bool:
    return path.resolve().parent == shipped.ZOO.resolve()


def load_initial_weights(net: nn.Module, path: str | Path, strict: bool = True) -> dict:
    """Copy a skinseg checkpoint's network weights (the EMA average where the run kept one:
    that is what its ``state_dict`` holds), a ``.safetensors`` model's, or a shipped model's
    (``path`` is then its name: ``isic2017``) into ``net``.

    With ``strict``, any difference (a tensor missing, extra or of another shape: another
    model, width or depth) is refused before training, naming the tensors. Without it, the
    tensors that match are loaded and the others listed.

    Returns:
        The provenance: the file's path, SHA-256, its own model, recipe and training data, and
        what was loaded and skipped (plain data, for ``metrics.json`` and checkpoints).

    Raises:
        FileNotFoundError: no such file and no shipped model of that name.
        InitError: not a skinseg model file, a crafted file, or (strict) other shapes.
    """
    try:
        path = shipped.resolve_model(path)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"init_from: {exc}") from exc
    try:
        state, source = _read_weights(path)
    except ValueError as exc:  # CheckpointError: crafted, unreadable, another hash
        raise InitError(f"init_from: {exc}") from exc
    differences = compare_weights(net, state)
    if strict and any(differences.values()):
        raise InitError(
            f"init_from: {path} holds another architecture ({source.get('model')}) than this "
            f"run's: {_listing(differences)}. Set init_from_strict=false to load the tensors "
            "that match"
        )
    skipped = {k for k, *_ in differences["mismatched"]}
    matching = {k: v for k, v in state.items() if k in net.state_dict() and k not in skipped}
    net.load_state_dict(matching, strict=False)
    provenance = {
        "path": str(path.resolve()),
        **({"shipped": source["name"]} if source.get("name") and _is_shipped(path) else {}),
        "sha256": source["sha256"],
        "model": source.get("model"),
        "recipe": source.get("recipe"),
        "training_data": source.get("training_data"),
        "epoch": source.get("epoch"),
        "strict": strict,
        "loaded_tensors": len(matching),
        "skipped": differences,
    }
    if source.get("init_from"):  # a fine-tuned model fine-tuned again keeps its lineage
        provenance["init_from"] = source["init_from"]
    log.info("init_from %s: %d tensors loaded", path, len(matching))
    if any(differences.values()):
        log.warning("init_from %s: not loaded: %s", path, _listing(differences))
    return provenance
