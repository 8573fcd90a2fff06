"""k-fold cross-validation of a training recipe: the honest estimate of how it generalises.

    python -m benchmarks.crossval experiment=ph2_best data.root=../shared/data/PH2Dataset \
        [--folds 5] [--only 0 1] [--parallel 1] [--out logs/cv/ph2_best] [more overrides]

Each fold's images are the test set of one run, which trains on the other folds and chooses its
checkpoint and threshold on a validation split carved from them (never on the fold it is scored
on). Each image is scored once, at its original resolution, through the recipe as shipped
(TTA, post-processing, chosen threshold). Writes ``cv.md`` and ``cv.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from pathlib import Path

from benchmarks.runner import ROOT, run_all

METRICS = ("jaccard", "threshold_jaccard", "dice", "accuracy", "sensitivity", "specificity")


def fold_table(results: list[dict]) -> dict:
    """Per-fold rows, mean ± std over folds, and the pooled per-image means."""
    from skinseg.evaluation import read_per_image

    rows, images = [], []
    for r in sorted(results, key=lambda r: r.get("fold") or 0):
        test = r.get("test", {})
        rows.append(
            {
                "fold": r.get("fold"),
                "status": r.get("status"),
                "test_images": (r.get("split_sizes") or {}).get("test"),
                "threshold": test.get("threshold"),
                "epochs": r.get("epochs"),
                "wall_time_s": r.get("wall_time_s"),
                **{m: test.get(f"test_full/{m}") for m in METRICS},
            }
        )
        per_image = Path(r["run_dir"]) / "test_per_image.csv"
        if per_image.is_file():
            images += read_per_image(per_image)
    folds = {}
    for m in METRICS:
        values = [row[m] for row in rows if row[m] is not None]
        if values:
            folds[m] = {
                "mean": statistics.fmean(values),
                "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            }
    pooled = {m: statistics.fmean(i[m] for i in images) for m in METRICS} if images else {}
    return {"folds": rows, "mean_over_folds": folds, "pooled_images": pooled, "images": len(images)}


def markdown(summary: dict, command: str) -> str:
    lines = [
        "# Cross-validation",
        "",
        f"`{command}`",
        "",
        "Per-image scores at the original resolution, recipe as shipped; each image is scored "
        "once, by the run that did not train on it.",
        "",
        "| fold | test images | threshold | epochs | run wall (s) | " + " | ".join(METRICS) + " |",
        "|" + "---|" * (5 + len(METRICS)),
    ]
    for row in summary["folds"]:
        cells = [
            row["fold"],
            row["test_images"],
            row["threshold"],
            row["epochs"],
            row["wall_time_s"],
        ]
        cells += ["n/a" if row[m] is None else f"{row[m]:.4f}" for m in METRICS]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    mean = summary["mean_over_folds"]
    lines.append(
        "| **mean ± std** | | | | | "
        + " | ".join(
            f"{mean[m]['mean']:.4f} ± {mean[m]['std']:.4f}" if m in mean else "n/a" for m in METRICS
        )
        + " |"
    )
    pooled = summary["pooled_images"]
    if pooled:
        lines.append(
            f"| **all {summary['images']} images** | | | | | "
            + " | ".join(f"{pooled[m]:.4f}" for m in METRICS)
            + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--only",
        type=int,
        nargs="+",
        default=None,
        metavar="K",
        help="run only these folds (of --folds); the others are left out of the table",
    )
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time")
    parser.add_argument("--out", type=Path, default=None)
    args, overrides = parser.parse_known_args(argv)
    name = next((o.split("=", 1)[1] for o in overrides if o.startswith("experiment=")), "cv")
    out = (args.out or ROOT / "logs" / "cv" / name).resolve()
    jobs = [
        (out / f"fold{k}", [*overrides, f"data.num_folds={args.folds}", f"data.fold={k}"])
        for k in (args.only if args.only is not None else range(args.folds))
    ]
    if any(not 0 <= k < args.folds for k in args.only or ()):
        parser.error(f"--only takes folds 0..{args.folds - 1}, got {args.only}")
    results = run_all(jobs, args.parallel)
    summary = fold_table(results)
    command = "python -m benchmarks.crossval " + " ".join(
        [*map(shlex.quote, overrides), f"--folds {args.folds}"]
        + ([f"--only {' '.join(map(str, args.only))}"] if args.only is not None else [])
    )
    (out / "cv.json").write_text(json.dumps({"command": command, **summary}, indent=2))
    text = markdown(summary, command)
    (out / "cv.md").write_text(text)
    print(text)
    return 0 if all(r.get("status") == "completed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
