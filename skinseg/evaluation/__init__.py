"""Scoring masks as the ISIC challenge scorer does: per image, at the original resolution.

One home for per-image scores, their tables (CSV, JSON) and the choice of a mask threshold,
used by ``skinseg evaluate``, the after-fit calibration of a run, cross-validation and the
prediction ablation.
"""

from skinseg.evaluation.scores import SCORES, score_mask, summarise
from skinseg.evaluation.tables import (
    SOURCES,
    read_per_image,
    source_path,
    table_path,
    write_per_image,
)
from skinseg.evaluation.threshold import MIN_GAIN, choose_threshold

__all__ = [
    "MIN_GAIN",
    "SCORES",
    "SOURCES",
    "choose_threshold",
    "read_per_image",
    "score_mask",
    "source_path",
    "summarise",
    "table_path",
    "write_per_image",
]
