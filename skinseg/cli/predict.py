"""``skinseg predict``: lesion masks for new images, in the ISIC submission format."""

from __future__ import annotations

import argparse
from pathlib import Path

from skinseg.cli.model_source import add_model_source, add_run_options, model_source

HELP = "Segment an image or a folder: writes <stem>_segmentation.png (0/255) per image."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_source(parser)
    parser.add_argument("--input", required=True, type=Path, help="an image or a folder")
    parser.add_argument("--output", required=True, type=Path, help="folder for the masks")
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="probability threshold (default: the model's recipe)",
    )
    parser.add_argument("--overlay", action="store_true", help="also write <stem>_overlay.png")
    parser.add_argument(
        "--probabilities", action="store_true", help="also write <stem>_probability.png (0..255)"
    )
    parser.add_argument("--batch-size", type=int, default=4)
    add_run_options(parser)


def run(args: argparse.Namespace) -> int:
    from skinseg.inference.run import predict_files

    written = predict_files(
        model_source(args),
        args.input,
        args.output,
        threshold=args.threshold,
        tta=args.tta,
        overlay=args.overlay,
        probabilities=args.probabilities,
        batch_size=args.batch_size,
        device=args.device,
        precision=args.precision,
    )
    print(f"wrote {len(written)} mask(s) to {args.output}")
    return 0
