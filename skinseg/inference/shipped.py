"""Models that ship inside the package, and the file pair they ship as.

A shipped model is two files side by side: ``NAME.safetensors`` (the network's tensors; the
format holds no code, so nothing in it can run) and ``NAME.json`` (plain JSON: the network's
``_target_`` config, the prediction recipe, the storage dtype, the weights' SHA-256 and where
they came from). The hash is checked on every load, so a damaged or swapped weights file is
refused. ``skinseg export --format safetensors`` writes the same pair from any checkpoint;
``skinseg/zoo/`` holds the pairs that ship, each with its model card ``NAME.md``, and every
command that takes a model file also takes a shipped model's name (``--model isic2017``,
``init_from=isic2017``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from skinseg.atomic import atomic_path, write_text
from skinseg.inference.nets import CheckpointError, build_net, stored_recipe
from skinseg.recipe import Recipe

FORMAT = "skinseg-safetensors/1"
SUFFIX = ".safetensors"
ZOO = Path(__file__).resolve().parents[1] / "zoo"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ShippedModel:
    """A model in ``skinseg/zoo/``: its weights file, its JSON and its card."""

    name: str
    weights: Path
    info: dict

    @property
    def card(self) -> Path:
        return self.weights.with_suffix(".md")


def shipped_models(zoo: Path = ZOO) -> dict[str, ShippedModel]:
    """Every model that ships with the package, by name."""
    models = {}
    for info_path in sorted(zoo.glob("*.json")) if zoo.is_dir() else ():
        weights = info_path.with_suffix(SUFFIX)
        models[info_path.stem] = ShippedModel(info_path.stem, weights, read_info(weights))
    return models


def resolve_model(value: str | Path) -> Path:
    """A model file: ``value`` itself where that file exists, else the weights of the shipped
    model of that name.

    Raises:
        FileNotFoundError: neither (naming the shipped models where ``value`` is a bare name).
    """
    path = Path(value).expanduser()
    if path.is_file():
        return path
    models = shipped_models()
    if str(value) in models:
        return models[str(value)].weights
    if path.suffix or len(path.parts) > 1:  # meant as a file
        raise FileNotFoundError(f"model file {path} not found")
    raise FileNotFoundError(
        f"model {value}: no such file, and no shipped model of that name "
        f"(shipped: {', '.join(models) or 'none'})"
    )


def shipped_weights(name: str) -> Path:
    """The weights file of the shipped model ``name``.

    Raises:
        FileNotFoundError: no shipped model of that name (the error lists them).
    """
    models = shipped_models()
    if name not in models:
        raise FileNotFoundError(
            f"no shipped model named {name!r} (shipped: {', '.join(models) or 'none'})"
        )
    return models[name].weights


def info_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".json")


def read_info(weights: str | Path) -> dict:
    """The JSON beside a ``.safetensors`` model, checked for the keys loading needs."""
    path = info_path(weights)
    if not path.is_file():
        raise CheckpointError(
            f"{weights}: a skinseg .safetensors model needs its {path.name} beside it (the "
            "network config, recipe and hash), which is missing"
        )
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a skinseg model description (format {FORMAT!r})")
    missing = [k for k in ("net_config", "recipe", "sha256", "dtype") if k not in info]
    if missing:
        raise CheckpointError(f"{path}: missing {', '.join(missing)}")
    return info


def load_state(weights: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors (as float32) and the JSON of a ``.safetensors`` model, after checking the
    weights file's SHA-256 against the one its JSON records.

    Raises:
        FileNotFoundError: no weights file.
        CheckpointError: no or bad JSON, another hash, or not a safetensors file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"model file {weights} not found")
    info = read_info(weights)
    digest = file_sha256(weights)
    if digest != info["sha256"]:
        raise CheckpointError(
            f"{weights}: its SHA-256 is {digest}, not the {info['sha256']} that "
            f"{info_path(weights).name} records: the file was changed or damaged"
        )
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({exc})") from exc
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, info


def load_net(weights: str | Path) -> tuple[nn.Module, Recipe]:
    """The network (eval mode, CPU, float32) and recipe of a ``.safetensors`` model."""
    state, info = load_state(weights)
    net = build_net(info["net_config"], str(weights))
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{weights}: weights do not fit the stored model config: {exc}"
        ) from exc
    return net.eval(), stored_recipe(info["recipe"], weights)


def save_model(
    net: nn.Module,
    net_config: dict,
    recipe: dict,
    weights: str | Path,
    dtype: str = "float16",
    about: dict | None = None,
) -> dict:
    """Write ``weights`` (``.safetensors``) and its JSON, each atomically, the JSON last: the
    network's floating-point tensors stored in ``dtype`` (integer buffers such as BatchNorm's
    batch counter unchanged), and ``about`` (training data, command, scores) kept in the JSON.

    Returns:
        The JSON written.
    """
    from safetensors.torch import save_file

    weights = Path(weights)
    if weights.suffix != SUFFIX:
        raise ValueError(f"{weights}: a shipped model's weights file ends in {SUFFIX}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    stored_recipe(recipe, weights)  # refuse a bad recipe before writing
    tensors = {
        k: (v.to(DTYPES[dtype]) if v.is_floating_point() else v).contiguous()
        for k, v in net.state_dict().items()
    }
    weights.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    info = {
        "format": FORMAT,
        "name": weights.stem,
        "sha256": file_sha256(weights),
        "bytes": weights.stat().st_size,
        "dtype": dtype,
        "parameters": sum(p.numel() for p in net.parameters()),
        "net_config": dict(net_config),
        "recipe": dict(recipe),
        **(about or {}),
    }
    write_text(info_path(weights), json.dumps(info, indent=2) + "\n")
    return info


def shipped_table(zoo: Path = ZOO) -> str:
    """A Markdown table of the shipped models: what they are, how big, what they scored."""
    rows = [
        "| shipped model | network | parameters | file | input | trained on | "
        "cross-validation Jaccard | SHA-256 |",
        "| --- | --- | ---: | ---: | --- | --- | ---: | --- |",
    ]
    for name, model in shipped_models(zoo).items():
        info = model.info
        net = dict(info["net_config"])
        target = net.pop("_target_").rsplit(".", 1)[-1]
        options = ", ".join(f"{k}={v}" for k, v in net.items() if not k.startswith("_"))
        size = info["recipe"].get("image_size")
        trained_on = info.get("training_data") or {}
        data = trained_on.get("dataset") or "+".join(trained_on.get("sources") or ["?"])
        cv = (info.get("evaluation") or {}).get("cv_jaccard")
        rows.append(
            f"| `{name}` | `{target}({options})` | {info['parameters'] / 1e6:.2f} M "
            f"| {info['bytes'] / 2**20:.1f} MiB {info['dtype']} "
            f"| {'x'.join(map(str, size)) if size else '?'} | {data} "
            f"| {'' if cv is None else f'{cv:.3f}'} | `{info['sha256'][:12]}` |"
        )
    return "\n".join(rows)
