"""Why a cross-validation on ISIC's training pairs may be optimistic: near-duplicate images on
both sides of a fold, and how scores differ between acquisition batches.

    python -m benchmarks.cv_optimism logs/cv/isic2017 \
        --images ../shared/data/ISIC2017/ISIC-2017_Training_Data

1. Near duplicates: every image reduced to a 24 x 24 grey thumbnail, normalised; pairs whose
   thumbnails correlate above ``--threshold`` are counted (and listed), and each test image of
   the cross-validation is marked if one of its near twins was in its run's training split.
   Twins' and others' mean per-image Jaccard are compared.
2. Batches: ISIC ids were issued in blocks as collections were added to the archive
   (``ISIC_00NN...``: the block is NN); the per-image Jaccard is reported per block, since a
   test set drawn from other collections than the training pairs scores like its blocks.
3. With ``--grouped DIR`` (the same recipe's ``benchmarks.crossval ... data.groups=isic_id_block``):
   each image that both cross-validations scored, scored once by a run that trained on images
   of its block (the random folds) and once by a run that had no image of its block (the
   grouped folds): the mean difference over those images and the Wilcoxon signed-rank test,
   overall and per block.

Writes ``cv_optimism.json`` beside the cross-validation's ``cv.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from skinseg.data.groups import isic_id_block


def thumbnails(folder: Path, size: int = 24):
    import numpy as np
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    rows = []
    for f in files:
        a = np.asarray(Image.open(f).convert("L").resize((size, size), Image.BILINEAR), float)
        a = (a.ravel() - a.mean()) / (a.std() + 1e-6)
        rows.append(a / np.sqrt(a.size))
    return [f.stem for f in files], np.stack(rows)


def near_pairs(ids: list[str], vectors, threshold: float) -> list[tuple[str, str, float]]:
    import numpy as np

    corr = vectors @ vectors.T
    i, j = np.where(np.triu(corr > threshold, k=1))
    return [(ids[a], ids[b], round(float(corr[a, b]), 4)) for a, b in zip(i, j, strict=True)]


def fold_test_scores(cv: Path) -> dict[str, float]:
    """Per-image test Jaccard of every finished fold of a crossval folder."""
    from skinseg.compare import per_image_scores

    scores = {}
    for fold in sorted(cv.glob("fold*")):
        scores.update(per_image_scores({"run_dir": fold}))
    return scores


def unseen_block_effect(random: dict[str, float], grouped: dict[str, float]) -> dict:
    """The images both folders scored: random-fold against grouped-fold Jaccard."""
    from skinseg.compare import wilcoxon_p

    both = sorted(set(random) & set(grouped))
    if not both:
        raise SystemExit("the two cross-validations scored no image in common")
    by_block = defaultdict(list)
    for i in both:
        by_block[isic_id_block(i)].append(i)

    def summary(ids: list[str]) -> dict:
        diffs = [grouped[i] - random[i] for i in ids]
        p = wilcoxon_p(diffs)
        return {
            "images": len(ids),
            "jaccard_random_folds": statistics.fmean(random[i] for i in ids),
            "jaccard_grouped_folds": statistics.fmean(grouped[i] for i in ids),
            "difference": statistics.fmean(diffs),
            "p_wilcoxon": None if math.isnan(p) else p,  # NaN: too few differences
        }

    return {
        "grouped_images": len(grouped),
        "jaccard_grouped_all": statistics.fmean(grouped.values()),
        "common": summary(both),
        "by_id_block": {b: summary(v) for b, v in sorted(by_block.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cv", type=Path, help="a benchmarks.crossval output folder")
    parser.add_argument("--images", type=Path, required=True, help="the dataset's image folder")
    parser.add_argument("--threshold", type=float, default=0.97)
    parser.add_argument("--grouped", type=Path, help="the same recipe's grouped crossval folder")
    args = parser.parse_args(argv)
    from skinseg.evaluation import read_per_image

    ids, vectors = thumbnails(args.images)
    pairs = near_pairs(ids, vectors, args.threshold)
    twins = defaultdict(set)
    for a, b, _ in pairs:
        twins[a].add(b)
        twins[b].add(a)
    with_twin, without, by_block, scores = [], [], defaultdict(list), {}
    for fold in sorted(args.cv.glob("fold*")):
        table = fold / "test_per_image.csv"
        if not table.is_file():
            continue
        train = set(json.loads((fold / "split.json").read_text())["train"])
        for row in read_per_image(table):
            (with_twin if twins.get(row["id"], set()) & train else without).append(row["jaccard"])
            by_block[isic_id_block(row["id"])].append(row["jaccard"])
            scores[row["id"]] = row["jaccard"]
    result = {
        "threshold": args.threshold,
        "images": len(ids),
        "near_duplicate_pairs": len(pairs),
        "images_in_pairs": len(twins),
        "pairs": pairs,
        "test_images_with_a_twin_in_training": len(with_twin),
        "jaccard_with_twin": statistics.fmean(with_twin) if with_twin else None,
        "jaccard_without_twin": statistics.fmean(without) if without else None,
        "jaccard_by_id_block": {
            b: {"images": len(v), "jaccard": statistics.fmean(v)}
            for b, v in sorted(by_block.items())
        },
    }
    if args.grouped:
        result["grouped_folds"] = unseen_block_effect(scores, fold_test_scores(args.grouped))
    (args.cv / "cv_optimism.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "pairs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
