"""``skinseg review``: a self-contained HTML page of every image of an evaluation."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = (
    "Write review.html for an evaluation, a run or a cross-validation: every image with its "
    "truth and prediction outlined, its scores, worst first."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "folder",
        type=Path,
        help="output of `skinseg evaluate` (per_image.csv), a run (test_per_image.csv), or a "
        "folder of runs (a cross-validation)",
    )
    parser.add_argument(
        "--output", type=Path, help="the page to write (default: FOLDER/review.html)"
    )


def run(args: argparse.Namespace) -> int:
    from skinseg.review import write_review

    path = write_review(args.folder, args.output)
    print(f"wrote {path} (open it in a browser; pictures in {path.stem}_files/)")
    return 0
