"""``skinseg models``: the registered architectures, their size and cost, and the shipped
models."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = (
    "List the architectures (parameters, forward GFLOPs) and the shipped models (optionally "
    "into the README)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, nargs=2, default=[256, 256], metavar=("H", "W"))
    parser.add_argument(
        "--update-readme",
        type=Path,
        metavar="README",
        help="write the tables between the <!-- models:start/end --> (and, where present, "
        "<!-- shipped:start/end -->) markers of this file",
    )


def run(args: argparse.Namespace) -> int:
    from skinseg.cli.readme import replace_block
    from skinseg.inference.shipped import shipped_table
    from skinseg.models.summary import model_table

    tables = {"models": model_table(tuple(args.size)), "shipped": shipped_table()}
    print("\n\n".join(tables.values()))
    if args.update_readme:
        text = args.update_readme.read_text(encoding="utf-8")
        changed = [
            replace_block(args.update_readme, name, table)
            for name, table in tables.items()
            if name == "models" or f"<!-- {name}:start -->" in text  # the shipped one: optional
        ]
        print(f"{args.update_readme}: {'updated' if any(changed) else 'already up to date'}")
    return 0
