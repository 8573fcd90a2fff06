"""``skinseg export``: a model file that runs without the training code."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Export a checkpoint to ONNX or TorchScript (checked against PyTorch before writing)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--format", required=True, choices=["onnx", "torchscript"])
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset")


def run(args: argparse.Namespace) -> int:
    from skinseg.inference.export import export

    result = export(args.checkpoint, args.format, args.output, args.opset)
    print(
        f"wrote {result['output']} ({result['format']}); max abs difference from PyTorch "
        f"on random input: {result['max_abs_diff']:.2e}"
    )
    return 0
