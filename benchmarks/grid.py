"""The model x loss question on PH2: 3 architectures x 3 losses, k-fold, equal budgets.

    python -m benchmarks.grid data.root=../shared/data/PH2Dataset \
        [--folds 5] [--parallel 1] [--out logs/grid] [--docs docs/grid] [more overrides]

Every cell trains with the ``ph2_best`` recipe (augmentation, optimiser, schedule, EMA,
threshold choice, TTA and post-processing) and the same budget, changed only by the overrides
given (e.g. a smaller size and width to fit 45 runs in half an hour on 2 CPU cores); only the
model and the loss differ between cells. Each fold's images are scored
once, at their original resolution. Writes the sweep report (table, IoU curves, heatmap) in
``--out`` and, with the paired comparisons (UNet2 against UNet, Dice and Focal against BCE:
paired t-test over folds and Wilcoxon signed-rank over images, Holm-adjusted), ``--docs``.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path

from benchmarks.runner import ROOT, run_all
from skinseg.models import MODELS as REGISTRY

MODELS = tuple(sorted(REGISTRY))  # every registered architecture

LOSSES = ("bce", "dice", "focal")


def headline(comparisons) -> list[str]:
    lines = []
    for c in comparisons:
        if not c.scope.startswith("all"):
            continue
        verdict = (
            "significant"
            if c.p_holm.get("wilcoxon", 1) < 0.05 and c.p_holm.get("t", 1) < 0.05
            else "significant over images only"
            if c.p_holm.get("wilcoxon", 1) < 0.05
            else "significant over folds only"
            if c.p_holm.get("t", 1) < 0.05
            else "not significant"
        )
        lines.append(
            f"- **{c.a} vs {c.b}** "
            f"({c.scope}): {c.diff:+.4f} Jaccard "
            f"(95 % CI {c.ci95[0]:+.4f} to {c.ci95[1]:+.4f}; better on {c.wins} of {c.pairs} "
            f"paired runs; Holm p = {c.p_holm.get('t', float('nan')):.2g} over folds, "
            f"{c.p_holm.get('wilcoxon', float('nan')):.2g} over {c.images} image pairs): "
            f"{verdict}."
        )
    return lines


def write_docs(out: Path, docs: Path, command: str) -> str:
    from skinseg.compare import markdown, model_and_loss_comparisons
    from skinseg.report import load_runs, write_report

    table = write_report(out)
    runs = load_runs(out)
    folds = len({r.get("fold") for r in runs})
    comparisons = model_and_loss_comparisons(
        runs, [("unet2", "unet"), ("unet", "segnet")], [("dice", "bce"), ("focal", "bce")]
    )
    docs.mkdir(parents=True, exist_ok=True)
    for name in ("val_iou_curves.png", "test_iou_grid.png", "results.csv"):
        shutil.copy(out / name, docs / name)
    text = "\n".join(
        [
            "# The model × loss grid on PH2",
            "",
            f"Reproduce: `{command}`",
            "",
            f"{len(runs)} runs: {len(MODELS)} models × {len(LOSSES)} losses × {folds} folds. "
            "Every cell trains with the `ph2_best` recipe (augmentation, AdamW + cosine, EMA, "
            "threshold chosen on the validation split, flip TTA, largest component, hole "
            "filling) and the same budget, with the overrides in the command above; only the "
            "model and the loss differ. Each image is scored once, at its original resolution, "
            "by the run of the fold that held it out. Run metric: the fold's mean per-image "
            "Jaccard (`test_full/jaccard`).",
            "",
            "## Headline",
            "",
            *headline(comparisons),
            "",
            "## Results (mean ± std over folds)",
            "",
            table,
            "",
            "Curves that still rise at the last epoch mean the budget, not the architecture or"
            " the loss, limits that cell: compare cells at the budget you will train with.",
            "",
            "![validation IoU curves](val_iou_curves.png)",
            "",
            "![test Jaccard grid](test_iou_grid.png)",
            "",
            "## Paired comparisons",
            "",
            "Differences are a − b. Over folds: mean of the per-fold differences, 95 % t interval,"
            " paired t-test. Over images: every image is scored once (in the fold that held it "
            "out), Wilcoxon signed-rank test of the per-image differences. Holm adjustment within"
            " the pooled comparisons and within the per-cell ones.",
            "",
            markdown(comparisons),
            "",
        ]
    )
    (docs / "README.md").write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time")
    parser.add_argument("--out", type=Path, default=ROOT / "logs" / "grid")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "grid")
    parser.add_argument("--report-only", action="store_true", help="only rewrite the report")
    args, overrides = parser.parse_known_args(argv)
    out = args.out.resolve()
    if not args.report_only:
        jobs = [
            (
                out / f"{model}_{loss}_fold{k}",
                [
                    "experiment=ph2_best",
                    f"model={model}",
                    f"loss={loss}",
                    *overrides,
                    f"data.num_folds={args.folds}",
                    f"data.fold={k}",
                ],
            )
            for model in MODELS
            for loss in LOSSES
            for k in range(args.folds)
        ]
        run_all(jobs, args.parallel)
    command = "python -m benchmarks.grid " + " ".join(
        [*map(shlex.quote, overrides), f"--folds {args.folds}"]
    )
    print(write_docs(out, args.docs, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
