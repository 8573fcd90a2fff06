"""Fine-tuning against training from scratch, on the same cross-validation folds.

    python -m benchmarks.transfer --source-overrides "experiment=isic_best data.root=ISIC" \\
        --folds 0 1 experiment=ph2_best data.root=PH2 [more target overrides]

First trains the source run (``--source-overrides``; or reuses a finished run with
``--source RUN_DIR``), then on each target fold trains every variant: ``scratch``, ``finetune``
(``init_from`` the source's best checkpoint), ``encoder_lr_0.1`` (fine-tuning with the encoder
at a tenth of the learning rate) and ``freeze_5`` (encoder frozen for the first 5 epochs).
Writes ``transfer.json`` and ``transfer.md`` (full-resolution test scores per fold and variant,
their means and each variant's mean paired difference from scratch) in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from pathlib import Path

from benchmarks.runner import ROOT, run_all
from skinseg.hardware import cpu_description

VARIANTS = {
    "scratch": [],
    "finetune": ["init_from={source}"],
    "encoder_lr_0.1": ["init_from={source}", "module.encoder_lr_scale=0.1"],
    "freeze_5": ["init_from={source}", "module.freeze_encoder_epochs=5"],
}
METRICS = ("jaccard", "dice", "threshold_jaccard")


def table(results: dict[str, dict[int, dict]]) -> dict:
    """Per variant: per-fold scores, means, and the mean paired difference from scratch."""
    out = {}
    for variant, folds in results.items():
        rows = {
            k: {m: (r.get("test") or {}).get(f"test_full/{m}") for m in METRICS}
            | {"wall_time_s": r.get("wall_time_s"), "status": r.get("status")}
            for k, r in folds.items()
        }
        means = {}
        for m in METRICS:  # a variant whose runs all failed has no mean
            values = [v[m] for v in rows.values() if v[m] is not None]
            means[m] = statistics.fmean(values) if values else None
        entry = {"folds": rows, "mean": means}
        if variant != "scratch" and "scratch" in results:
            base = {
                k: (r.get("test") or {}).get("test_full/jaccard")
                for k, r in results["scratch"].items()
            }
            diffs = [
                rows[k]["jaccard"] - base[k]
                for k in rows
                if base.get(k) is not None and rows[k]["jaccard"] is not None
            ]
            entry["jaccard_minus_scratch"] = statistics.fmean(diffs) if diffs else None
        out[variant] = entry
    return out


def markdown(summary: dict, command: str) -> str:
    folds = sorted({k for v in summary["variants"].values() for k in v["folds"]})
    lines = [
        f"`{command}`",
        "",
        f"Source: `{summary['source']}`. CPU: {summary['cpu']}.",
        "",
        "| variant | "
        + " | ".join(f"fold {k} Jaccard" for k in folds)
        + " | mean Jaccard | mean Dice | vs scratch | run wall (s) |",
        "| --- |" + " ---: |" * (len(folds) + 4),
    ]

    def cell(value) -> str:
        return "failed" if value is None else f"{value:.4f}"

    for name, v in summary["variants"].items():
        walls = [f"{v['folds'][k]['wall_time_s'] or 0:.0f}" for k in folds if k in v["folds"]]
        diff = v.get("jaccard_minus_scratch")
        lines.append(
            f"| {name} | "
            + " | ".join(cell(v["folds"][k]["jaccard"]) for k in folds if k in v["folds"])
            + f" | {cell(v['mean']['jaccard'])} | {cell(v['mean']['dice'])} | "
            + ("" if diff is None else f"{diff:+.4f}")
            + f" | {', '.join(walls)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, help="a finished source run directory")
    parser.add_argument("--source-overrides", default="", help="train.py overrides of the source")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--num-folds", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=ROOT / "logs" / "transfer")
    args, overrides = parser.parse_known_args(argv)
    out = args.out.resolve()
    source_dir = args.source
    if source_dir is None:
        if not args.source_overrides:
            parser.error("give --source RUN_DIR or --source-overrides '...'")
        source_dir = out / "source"
        (result,) = run_all([(source_dir, shlex.split(args.source_overrides))])
        if result.get("status") != "completed":
            raise SystemExit(f"the source run failed: {result.get('error')}")
    source = (source_dir / "checkpoints" / "best.ckpt").resolve()
    if not source.is_file():
        raise SystemExit(f"no checkpoints/best.ckpt in {source_dir}")
    jobs, keys = [], []
    for k in args.folds:
        for variant in args.variants:
            extra = [o.format(source=source) for o in VARIANTS[variant]]
            folds = [f"data.num_folds={args.num_folds}", f"data.fold={k}"]
            jobs.append((out / variant / f"fold{k}", [*overrides, *folds, *extra]))
            keys.append((variant, k))
    results: dict[str, dict[int, dict]] = {}
    for (variant, k), result in zip(keys, run_all(jobs), strict=True):
        results.setdefault(variant, {})[k] = result
    summary = {
        "source": str(source),
        "source_overrides": args.source_overrides,
        "cpu": cpu_description()["model"],
        "variants": table(results),
    }
    command = "python -m benchmarks.transfer " + " ".join(
        [f"--source-overrides {shlex.quote(args.source_overrides)}"] * bool(args.source_overrides)
        + [f"--folds {' '.join(map(str, args.folds))}", *map(shlex.quote, overrides)]
    )
    (out / "transfer.json").write_text(json.dumps({"command": command, **summary}, indent=2))
    text = markdown(summary, command)
    (out / "transfer.md").write_text(text)
    print(text)
    return (
        0
        if all(r.get("status") == "completed" for v in results.values() for r in v.values())
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
