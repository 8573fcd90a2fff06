"""``skinseg models``: the registered architectures, their size and cost."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "List the models with parameter counts and forward GFLOPs (optionally into the README)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, nargs=2, default=[256, 256], metavar=("H", "W"))
    parser.add_argument(
        "--update-readme",
        type=Path,
        metavar="README",
        help="write the table between the <!-- models:start/end --> markers of this file",
    )


def run(args: argparse.Namespace) -> int:
    from skinseg.cli.readme import replace_block
    from skinseg.models.summary import model_table

    table = model_table(tuple(args.size))
    print(table)
    if args.update_readme:
        changed = replace_block(args.update_readme, "models", table)
        print(f"{args.update_readme}: {'updated' if changed else 'already up to date'}")
    return 0
