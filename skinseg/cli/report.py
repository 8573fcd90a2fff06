"""``skinseg report``: one table and two figures for a multirun directory."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Summarise a sweep: results.md, results.csv, val_iou_curves.png, test_iou_grid.png."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep_dir", type=Path, help="e.g. logs/train/multiruns/<timestamp>")
    parser.add_argument("--no-figures", action="store_true")


def run(args: argparse.Namespace) -> int:
    from skinseg.report import write_report

    print(write_report(args.sweep_dir, figures=not args.no_figures))
    print(f"\nwrote {args.sweep_dir / 'results.md'}, results.csv and figures")
    return 0
