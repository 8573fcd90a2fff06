"""``skinseg review``: a self-contained HTML page of every image of an evaluation, or of two
evaluations of the same images side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = (
    "Write review.html for an evaluation, a run or a cross-validation: every image with its "
    "truth and prediction outlined, its scores, worst first. With two folders: compare.html, "
    "the two evaluations of each image side by side, sorted by the difference."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "folder",
        type=Path,
        help="output of `skinseg evaluate` (per_image.csv), a run (test_per_image.csv), or a "
        "folder of runs (a cross-validation)",
    )
    parser.add_argument(
        "other",
        type=Path,
        nargs="?",
        help="a second evaluation of the same images (another model, or the model after "
        "fine-tuning): write a comparison page instead",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="the page to write (default: FOLDER/review.html; with two folders OTHER/compare.html)",
    )


def run(args: argparse.Namespace) -> int:
    from skinseg.review import write_comparison, write_review

    if args.other is None:
        path = write_review(args.folder, args.output)
    else:
        path = write_comparison(args.folder, args.other, args.output)
    print(f"wrote {path} (open it in a browser; pictures in {path.stem}_files/)")
    return 0
