"""Per-image score tables (CSV) and summaries (JSON), written atomically."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from skinseg.atomic import atomic_path, write_json
from skinseg.evaluation.scores import SCORES

# Where each row's pictures are, for the review page: the image, its truth and the predicted
# mask as paths (relative to the table's folder when inside it), and the case's diagnosis where
# the dataset has one. Empty where unknown.
SOURCES = ("image", "truth", "prediction", "diagnosis")


def write_per_image(rows: Iterable[dict], path: str | Path, extra: Iterable[str] = ()) -> Path:
    """``id``, the :data:`SCORES` (full float precision) and any ``extra`` columns, one row per
    image."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", *SCORES, *extra], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def table_path(path: str | Path | None, table: str | Path) -> str:
    """``path`` as a per-image table stores it: relative to the table's folder when inside it,
    absolute otherwise, empty for None."""
    if path is None:
        return ""
    path, folder = Path(path).resolve(), Path(table).resolve().parent
    return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)


def source_path(value: str, table: str | Path) -> Path | None:
    """The file a :data:`SOURCES` cell names (see :func:`table_path`), None where empty."""
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else Path(table).resolve().parent / path


def read_per_image(path: str | Path) -> list[dict]:
    """Rows of a table written by :func:`write_per_image`: ``id`` and the :data:`SOURCES` as
    text, scores as floats.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a per-image table (no ``id`` or ``jaccard`` column, a bad number).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"per-image table {path} not found")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not {"id", "jaccard"} <= set(reader.fieldnames or []):
            raise ValueError(f"{path}: expected a per-image table with columns id, jaccard, ...")
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                rows.append({k: v if k not in SCORES else float(v) for k, v in row.items()})
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}, line {line}: not a number ({exc})") from exc
    return rows


def write_summary(summary: dict, path: str | Path) -> Path:
    """A summary (from :func:`~skinseg.evaluation.scores.summarise`) as JSON."""
    write_json(path, summary)
    return Path(path)


def _cell(summary: dict, name: str) -> str:
    low, high = summary.get("interval", {}).get(name, (None, None))
    mean = f"{summary[name]:.4f}"
    return mean if low is None else f"{mean} [{low:.3f}, {high:.3f}]"


def format_summary(summary: dict) -> str:
    """A summary (with intervals) as a text table: one row for all images, one per diagnosis,
    each mean followed by its 95 % interval."""
    groups = [("all", summary), *summary.get("by_diagnosis", {}).items()]
    header = ["", "images", *SCORES]
    lines = [[name, str(g["images"]), *(_cell(g, s) for s in SCORES)] for name, g in groups]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    out = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *lines]
    ]
    note = ""
    if "bootstrap" in summary:
        b = summary["bootstrap"]
        note = (
            f"\nmean [{b['level']:.0%} bootstrap interval: {b['resamples']} resamples of the "
            f"images, seed {b['seed']}]"
        )
    iou = f"\ndataset-level IoU {summary['iou']:.4f}" if "iou" in summary else ""
    return "\n".join(out) + iou + note
