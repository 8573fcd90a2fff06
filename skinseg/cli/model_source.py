"""The model a subcommand runs: ``--checkpoint FILE`` or ``--model NAME`` (a shipped model),
and how it runs: ``--tta``, ``--device``, ``--precision``."""

from __future__ import annotations

import argparse
from pathlib import Path

CHECKPOINT_HELP = "best.ckpt, a .safetensors model, or an .onnx / TorchScript export"
MODEL_HELP = "a model that ships with skinseg, by name (`skinseg models` lists them): isic2017"


def add_model_source(parser: argparse.ArgumentParser, group=None) -> None:
    """``--checkpoint`` and ``--model``, one of them required (or both added to ``group``, a
    mutually exclusive group the caller already made)."""
    target = group if group is not None else parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--checkpoint", type=Path, help=CHECKPOINT_HELP)
    target.add_argument("--model", metavar="NAME", help=MODEL_HELP)


def add_run_options(parser: argparse.ArgumentParser, tta: bool = True) -> None:
    """``--device`` and ``--precision`` (and ``--tta`` where the command can change it)."""
    if tta:
        parser.add_argument(
            "--tta",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="test-time augmentation (flips) on or off (default: as the model's recipe says)",
        )
    parser.add_argument(
        "--device", default="auto", help="auto, cpu, cuda, cuda:1, ... (default: %(default)s)"
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "32", "bf16"],
        help="auto: bf16 where it is measured to be faster than fp32 on this machine "
        "(default: %(default)s)",
    )


def model_source(args: argparse.Namespace) -> Path | None:
    """The model file the arguments name (a shipped model's weights for ``--model``), or None.

    Raises:
        FileNotFoundError: ``--model`` names no shipped model (the error lists them).
    """
    if getattr(args, "model", None):
        from skinseg.inference.shipped import shipped_weights

        return shipped_weights(args.model)
    return args.checkpoint
