"""What the prediction-time parts of a recipe are worth, on a cross-validation's test folds.

    python -m benchmarks.ablate_prediction logs/cv/ph2_best [--root DIR]

For every ``fold*/`` run of ``benchmarks/crossval.py``, the best checkpoint segments its own
test fold at the original resolution five ways: plain (threshold 0.5), + flip TTA, + hole
filling, + keeping the largest component, + the threshold stored in the checkpoint (the recipe
as shipped: chosen on the validation split where the recipe does that, else 0.5). Only
finished folds count. Prints mean per-image Jaccard and threshold Jaccard over all test images
(and the Jaccard of each fold, to see whether a step helps everywhere or only on average), and
writes ``ablation.md`` beside the folds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

VARIANTS = (
    ("plain, threshold 0.5", dict(tta=False, largest_component=False, fill_holes=False), 0.5),
    ("+ flip TTA", dict(tta=True, largest_component=False, fill_holes=False), 0.5),
    ("+ fill holes", dict(tta=True, largest_component=False, fill_holes=True), 0.5),
    (
        "+ largest component",
        dict(tta=True, largest_component=True, fill_holes=True),
        0.5,
    ),
    (
        "+ the checkpoint's threshold (as shipped)",
        dict(tta=True, largest_component=True, fill_holes=True),
        None,
    ),
)


def held_out_pairs(run_dir: Path, root: Path | None):
    """``(id, image, truth)`` of a fold's test images at their own resolution, found through
    the layout (and its options) that its ``split.json`` names."""
    from skinseg.data.io import read_image, read_mask
    from skinseg.data.layouts import get_layout

    split = json.loads((run_dir / "split.json").read_text())
    layout = get_layout(split["dataset"])
    if root is None and layout.needs_root and not split.get("root"):
        raise SystemExit(f"{run_dir}/split.json names no data folder ({layout.name}): pass --root")
    catalog = layout.catalog(
        root or split.get("root"), split.get("seed") or 0, **(split.get("options") or {})
    )
    samples = {s.id: s for s in catalog.all_samples()}
    for sid in split["test"]:
        s = samples[sid]
        yield sid, read_image(s.image)[0], read_mask(s.mask)[0]


def _completed(run_dir: Path) -> bool:
    """A fold whose run finished (a running or failed fold's best.ckpt is not its final one)."""
    metrics = run_dir / "metrics.json"
    if not metrics.is_file() or not (run_dir / "checkpoints" / "best.ckpt").is_file():
        return False
    try:
        return json.loads(metrics.read_text()).get("status") == "completed"
    except json.JSONDecodeError:
        return False


def main(argv: list[str] | None = None) -> int:
    import torch

    from skinseg.evaluation import score_mask
    from skinseg.inference.loading import load_predictor
    from skinseg.inference.run import batches

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cv_dir", type=Path)
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args(argv)
    folds = sorted(p for p in args.cv_dir.glob("fold*") if _completed(p))
    if not folds:
        raise SystemExit(
            f"no finished fold under {args.cv_dir}: expected fold*/ runs whose metrics.json "
            "says completed, with checkpoints/best.ckpt"
        )
    rows: dict[str, list[dict]] = {name: [] for name, _, _ in VARIANTS}
    for fold in folds:
        predictor = load_predictor(fold / "checkpoints" / "best.ckpt", "cpu")
        shipped = predictor.recipe
        recipes = {
            name: replace(
                shipped, **parts, threshold=shipped.threshold if threshold is None else threshold
            )
            for name, parts, threshold in VARIANTS
        }
        # The network runs once per image with and once without TTA; the variants differ
        # only in how those probabilities become a mask.
        with torch.inference_mode():
            for batch in batches(held_out_pairs(fold, args.root), 4):
                images = [image for _, image, _ in batch]
                probs = {tta: predictor.predict(images, tta=tta) for tta in (False, True)}
                for name, recipe in recipes.items():
                    for (sid, _, truth), p in zip(batch, probs[recipe.tta], strict=True):
                        row = score_mask(sid, recipe.to_mask(p), truth)
                        rows[name].append({**row, "fold": fold.name})
    lines = [
        f"# Prediction-time ablation: {args.cv_dir}",
        "",
        f"{len(folds)} folds, {len(rows[VARIANTS[0][0]])} test images, original resolution.",
        "",
        "| prediction | Jaccard | threshold Jaccard | Dice | Jaccard per fold |",
        "|---|---|---|---|---|",
    ]
    for name, variant_rows in rows.items():
        mean = {
            k: statistics.fmean(r[k] for r in variant_rows)
            for k in ("jaccard", "threshold_jaccard", "dice")
        }
        per_fold = " / ".join(
            f"{statistics.fmean(r['jaccard'] for r in variant_rows if r['fold'] == f.name):.4f}"
            for f in folds
        )
        lines.append(
            f"| {name} | {mean['jaccard']:.4f} | {mean['threshold_jaccard']:.4f} | "
            f"{mean['dice']:.4f} | {per_fold} |"
        )
    text = "\n".join(lines) + "\n"
    (args.cv_dir / "ablation.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
