"""Entry point of the ``skinseg`` console script: one subcommand per module of this package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

SUBCOMMANDS: dict[str, str] = {
    "models": "skinseg.cli.models",
    "download": "skinseg.cli.download",
    "predict": "skinseg.cli.predict",
    "evaluate": "skinseg.cli.evaluate",
    "review": "skinseg.cli.review",
    "report": "skinseg.cli.report",
    "export": "skinseg.cli.export",
    "serve": "skinseg.cli.serve",
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Callable]]:
    import importlib

    parser = argparse.ArgumentParser(
        prog="skinseg", description="Skin-lesion segmentation experiments."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runners = {}
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
        runners[name] = module.run
    return parser, runners


def main(argv: Sequence[str] | None = None) -> int:
    parser, runners = build_parser()
    args = parser.parse_args(argv)
    try:
        return runners[args.command](args) or 0
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"skinseg {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
