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

Writes ``cv_optimism.json`` beside the cross-validation's ``cv.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


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


def block(image_id: str) -> str:
    """The id block of an ISIC image: ``ISIC_0012345`` -> ``12`` (digits 3-4 of 7)."""
    digits = image_id.removeprefix("ISIC_")
    return digits[2:4] if len(digits) == 7 and digits.isdigit() else "other"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cv", type=Path, help="a benchmarks.crossval output folder")
    parser.add_argument("--images", type=Path, required=True, help="the dataset's image folder")
    parser.add_argument("--threshold", type=float, default=0.97)
    args = parser.parse_args(argv)
    from skinseg.evaluation import read_per_image

    ids, vectors = thumbnails(args.images)
    pairs = near_pairs(ids, vectors, args.threshold)
    twins = defaultdict(set)
    for a, b, _ in pairs:
        twins[a].add(b)
        twins[b].add(a)
    with_twin, without, by_block = [], [], defaultdict(list)
    for fold in sorted(args.cv.glob("fold*")):
        table = fold / "test_per_image.csv"
        if not table.is_file():
            continue
        train = set(json.loads((fold / "split.json").read_text())["train"])
        for row in read_per_image(table):
            (with_twin if twins.get(row["id"], set()) & train else without).append(row["jaccard"])
            by_block[block(row["id"])].append(row["jaccard"])
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
    (args.cv / "cv_optimism.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "pairs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
