"""Export a model's network to ONNX, TorchScript or a ``.safetensors`` pair, verified against
PyTorch first."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from skinseg.atomic import atomic_path
from skinseg.inference import shipped
from skinseg.inference.describe import describe_file
from skinseg.inference.loading import RECIPE_KEY, load_net

FORMATS = ("onnx", "torchscript", "safetensors")
TOLERANCE = 1e-4
# Of probabilities, for weights stored in 16 bits (fp16 keeps ~3 significant digits).
HALF_TOLERANCE = 2e-2


def _example(recipe, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, *recipe.image_size, generator=torch.Generator().manual_seed(0))


def _check(name: str, reference: np.ndarray, got: np.ndarray) -> float:
    diff = float(np.max(np.abs(reference - got)))
    if not np.isfinite(diff) or diff > TOLERANCE:
        raise RuntimeError(
            f"{name} export differs from PyTorch by {diff:.3g} (max abs) > {TOLERANCE}; "
            "nothing was written"
        )
    return diff


def export(
    checkpoint: str | Path, fmt: str, output: str | Path, opset: int = 17, dtype: str = "float16"
) -> dict:
    """Write the export to ``output`` only if it matches PyTorch on random input.

    ``checkpoint``: a training checkpoint, a ``.safetensors`` model or a shipped model's name.
    ONNX and TorchScript models take any batch size and any H, W divisible by ``2**depth``
    (skinseg predict always feeds the recipe's size); their recipe is stored inside the file.
    ``safetensors`` writes the weights in ``dtype`` and a JSON beside them
    (:mod:`skinseg.inference.shipped`); its difference is measured on probabilities.

    Returns:
        ``{"output": path, "max_abs_diff": d, "format": fmt}``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {FORMATS}")
    checkpoint = shipped.resolve_model(checkpoint)
    output = Path(output)
    if output.resolve() == checkpoint.resolve():
        raise ValueError(f"refusing to overwrite the checkpoint {checkpoint}")
    if fmt == "safetensors":
        return export_safetensors(checkpoint, output, dtype)
    output.parent.mkdir(parents=True, exist_ok=True)
    net, recipe = load_net(checkpoint)
    recipe_json = json.dumps(recipe.to_dict())
    x = _example(recipe)
    # Check on another batch size and, where the size allows, another resolution too.
    h, w = recipe.image_size
    step = 2 ** getattr(net, "depth", 0)
    x2 = torch.randn(
        3, 3, h + step if h % step == 0 else h, w, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        refs = [net(x).numpy(), net(x2).numpy()]
    with atomic_path(output) as tmp, warnings.catch_warnings():
        # Tracing bakes the padding branch for sizes divisible by 2**depth, as documented.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        if fmt == "onnx":
            diff = _export_onnx(net, x, [x, x2], refs, str(tmp), recipe_json, opset)
        else:
            diff = _export_torchscript(net, x, [x, x2], refs, str(tmp), recipe_json)
    return {"output": str(output), "max_abs_diff": diff, "format": fmt}


def _export_onnx(net, example, inputs, refs, path, recipe_json, opset) -> float:
    import onnx
    import onnxruntime as ort

    axes = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(
        net,
        (example,),
        path,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": axes, "logits": axes},
        opset_version=opset,
        dynamo=False,
    )
    model = onnx.load(path)
    entry = model.metadata_props.add()
    entry.key, entry.value = RECIPE_KEY, recipe_json
    onnx.save(model, path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return max(
        _check("ONNX", ref, session.run(None, {"image": x.numpy()})[0])
        for x, ref in zip(inputs, refs, strict=True)
    )


def _export_torchscript(net, example, inputs, refs, path, recipe_json) -> float:
    with torch.no_grad():
        traced = torch.jit.trace(net, example, check_trace=False)
    torch.jit.save(traced, path, _extra_files={RECIPE_KEY: recipe_json})
    loaded = torch.jit.load(path)
    with torch.no_grad():
        return max(
            _check("TorchScript", ref, loaded(x).numpy())
            for x, ref in zip(inputs, refs, strict=True)
        )


def export_safetensors(checkpoint: Path, output: Path, dtype: str = "float16") -> dict:
    """The ``.safetensors`` pair of a model, with the source's training data, epoch and lineage
    (and its own file and hash) in the JSON; refused if its probabilities differ from the
    source's by more than fp16 rounding allows."""
    if output.suffix != shipped.SUFFIX:
        raise ValueError(f"{output}: a safetensors export's name ends in {shipped.SUFFIX}")
    if shipped.info_path(output).resolve() == checkpoint.resolve():
        raise ValueError(f"refusing to overwrite {checkpoint}")
    net, recipe = load_net(checkpoint)
    source = describe_file(checkpoint)
    about = {k: source[k] for k in ("training_data", "epoch", "init_from") if source.get(k)}
    about["exported_from"] = {"file": source["file"], "sha256": source["sha256"]}
    x = _example(recipe)
    with torch.no_grad():
        reference = torch.sigmoid(net(x)).numpy()
    limit = TOLERANCE if dtype == "float32" else HALF_TOLERANCE
    if dtype not in shipped.DTYPES:
        raise ValueError(f"dtype must be one of {sorted(shipped.DTYPES)}, got {dtype!r}")
    rounded = copy.deepcopy(net)  # what the stored tensors will hold, read back as float32
    rounded.load_state_dict(
        {
            k: v.to(shipped.DTYPES[dtype]).float() if v.is_floating_point() else v
            for k, v in net.state_dict().items()
        }
    )
    with torch.no_grad():
        diff = float(np.max(np.abs(reference - torch.sigmoid(rounded(x)).numpy())))
    if not np.isfinite(diff) or diff > limit:
        raise RuntimeError(
            f"{dtype} weights change the probabilities by {diff:.3g} (max abs) > {limit}; "
            "nothing was written"
        )
    shipped.save_model(net, source["model"], recipe.to_dict(), output, dtype, about)
    return {"output": str(output), "max_abs_diff": diff, "format": "safetensors"}
