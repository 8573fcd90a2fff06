"""Paired comparison of finished recipes on the same folds: over folds and over images.

    python -m benchmarks.paired --a ph2_finetune=logs/cv/ph2_finetune \\
        --b scratch=logs/transfer_w16/scratch --b scratch=logs/transfer_w16_f234/scratch \\
        [--out docs/recipes/ph2_finetune_paired.md]

Each ``NAME=FOLDER`` adds every run (``metrics.json``) below FOLDER to recipe NAME; one name
may take several folders (folds run at different times). Runs pair by fold (and seed); each
image of a fold is scored by both (``test_per_image.csv``). Prints, and with ``--out`` writes,
the table of ``skinseg.compare``: mean difference with its 95 % interval and paired t-test over
folds, Wilcoxon signed-rank test over images, Holm-adjusted across the comparisons listed.
Every ``--a`` recipe is compared with every ``--b`` recipe.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from skinseg.compare import compare_recipes, holm, markdown
from skinseg.report import load_runs


def recipes(specs: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            raise SystemExit(f"expected NAME=FOLDER, got {spec!r}")
        out[name] += load_runs(Path(folder))
    return dict(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--a", action="append", required=True, metavar="NAME=FOLDER")
    parser.add_argument("--b", action="append", required=True, metavar="NAME=FOLDER")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    a, b = recipes(args.a), recipes(args.b)
    comparisons = [
        c
        for name_a, runs_a in a.items()
        for name_b, runs_b in b.items()
        if (c := compare_recipes(runs_a, runs_b, name_a, name_b)) is not None
    ]
    if not comparisons:
        raise SystemExit("no completed runs of the same folds in both")
    for key in ("t", "wilcoxon"):
        values = holm([c.p_t if key == "t" else c.p_wilcoxon for c in comparisons])
        for c, v in zip(comparisons, values, strict=True):
            c.p_holm[key] = v
    text = markdown(comparisons)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
