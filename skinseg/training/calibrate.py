"""After fitting: choose the mask threshold on the validation split, then score held-out images
at their original resolution through the full prediction recipe (TTA, post-processing), exactly
as ``skinseg predict`` will run the shipped checkpoint."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from skinseg.atomic import write_json
from skinseg.data import GeneratedSample
from skinseg.evaluation import (
    SCORES,
    SOURCES,
    choose_threshold,
    score_mask,
    summarise,
    table_path,
    write_per_image,
)
from skinseg.inference.describe import describe_checkpoint
from skinseg.inference.files import write_png
from skinseg.inference.loading import load_predictor
from skinseg.inference.run import predict_pairs
from skinseg.training.checkpoint_io import store_threshold

log = logging.getLogger(__name__)


def calibrate_and_score(
    checkpoint: Path,
    datamodule,
    output_dir: Path,
    select_threshold: bool,
    thresholds: Sequence[float],
    score_test: bool,
    device: str = "auto",
) -> dict:
    """Choose the threshold (stored in ``checkpoint``'s recipe) and score the test split at
    full size, writing its per-image scores to ``test_per_image.csv`` (its summary, with
    intervals and the checkpoint's description, to ``test_summary.json``) and its masks to
    ``test_predictions/`` (with the images and truths of generated data, which have no files),
    so that ``skinseg review`` can show them.

    Returns:
        ``{"threshold": ..., "threshold_candidates": {...}, "test_full/...": ...}`` with the
        parts that ran.
    """
    out: dict = {}
    predictor = load_predictor(checkpoint, device)
    if select_threshold and "val" in datamodule.datasets:
        scored = ((p, t) for _, p, t in predict_pairs(predictor, datamodule.originals("val")))
        threshold, means = choose_threshold(scored, predictor.recipe, thresholds)
        store_threshold(checkpoint, threshold)
        predictor.recipe = predictor.recipe.with_threshold(threshold)
        out["threshold"] = threshold
        out["threshold_candidates"] = {f"{t:g}": round(v, 5) for t, v in means.items()}
        log.info("Threshold %.2f chosen on the validation split (%s)", threshold, means)
    if score_test and "test" in datamodule.datasets:
        out.setdefault("threshold", predictor.recipe.threshold)  # the one the scores used
        table = output_dir / "test_per_image.csv"
        rows = []
        for sid, probs, truth in predict_pairs(predictor, datamodule.originals("test")):
            mask = predictor.to_mask(probs)
            row = score_mask(sid, mask, truth)
            row.update(_sources(datamodule, sid, mask, output_dir / "test_predictions", table))
            rows.append(row)
        write_per_image(rows, table, extra=SOURCES)
        summary = summarise(rows, intervals=True)
        summary["model"] = describe_checkpoint(checkpoint)
        summary["data"] = summary["model"].get("training_data")
        write_json(output_dir / "test_summary.json", summary)
        out.update({f"test_full/{k}": summary[k] for k in (*SCORES, "iou")})
        log.info(
            "Full-resolution test scores: %s",
            {k: round(v, 4) for k, v in out.items() if k.startswith("test_full/")},
        )
    return out


def _sources(datamodule, sid: str, mask, folder: Path, table: Path) -> dict[str, str]:
    """Write a test image's predicted mask; its :data:`~skinseg.evaluation.SOURCES` cells."""
    prediction = write_png(mask * 255, folder / f"{sid}_segmentation.png")
    source = datamodule.source(sid)
    if isinstance(source, GeneratedSample):
        image, truth = source.generate(datamodule.image_size)
        image_path = write_png(image, folder / f"{sid}_image.png")
        truth_path = write_png(truth * 255, folder / f"{sid}_truth.png")
    else:
        image_path, truth_path = source.image, source.mask
    return {
        "image": table_path(image_path, table),
        "truth": table_path(truth_path, table),
        "prediction": table_path(prediction, table),
        "diagnosis": datamodule.diagnoses.get(sid, ""),
    }
