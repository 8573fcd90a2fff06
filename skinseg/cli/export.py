"""``skinseg export``: a model file that runs without the training code."""

from __future__ import annotations

import argparse
from pathlib import Path

from skinseg.cli.model_source import add_model_source, model_source

HELP = (
    "Export a model to ONNX, TorchScript or a .safetensors pair (checked against PyTorch "
    "before writing)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_source(parser)
    parser.add_argument("--format", required=True, choices=["onnx", "torchscript", "safetensors"])
    parser.add_argument(
        "--output", required=True, type=Path, help="the file (NAME.safetensors: and NAME.json)"
    )
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset")
    parser.add_argument(
        "--dtype",
        default="float16",
        choices=["float16", "bfloat16", "float32"],
        help="storage of the weights, with --format safetensors (loaded as float32)",
    )


def run(args: argparse.Namespace) -> int:
    from skinseg.inference.export import export

    result = export(model_source(args), args.format, args.output, args.opset, args.dtype)
    print(
        f"wrote {result['output']} ({result['format']}); max abs difference from PyTorch "
        f"on random input: {result['max_abs_diff']:.2e}"
        + (" (probabilities)" if args.format == "safetensors" else "")
    )
    return 0
