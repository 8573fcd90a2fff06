"""The review page: one HTML file (inline script and styles, no network) over its pictures."""

from __future__ import annotations

import html
import json
import os
import shutil
import statistics
import tempfile
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from skinseg.atomic import write_text
from skinseg.recipe import PREDICTION_COLOUR, TRUTH_COLOUR
from skinseg.review.render import write_pictures
from skinseg.review.sources import Entry, find_tables, read_entries

COLUMNS = ("jaccard", "dice", "sensitivity", "specificity")  # the scores the page shows
BINS = 20  # of the Jaccard histogram


def _hex(colour: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in colour)


def histogram_svg(values: list[float], bins: int = BINS, width=640, height=140) -> str:
    """An SVG bar chart of scores in [0, 1]; each bar carries its range (``data-lo``,
    ``data-hi``) so that a click can filter the table to it."""
    counts = [0] * bins
    for v in values:
        counts[min(int(v * bins), bins - 1)] += 1
    top = max(counts) or 1
    pad, axis = 28, 18
    bar_w = (width - 2 * pad) / bins
    parts = [
        f'<svg id="histogram" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-label="Histogram of per-image Jaccard">'
    ]
    for i, n in enumerate(counts):
        lo, hi = i / bins, (i + 1) / bins
        h = (height - axis - 16) * n / top
        x, y = pad + i * bar_w, height - axis - h
        parts.append(
            f'<rect class="bar" data-lo="{lo:.2f}" data-hi="{hi:.2f}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{bar_w - 2:.1f}" height="{max(h, 0.5):.1f}">'
            f"<title>Jaccard {lo:.2f}-{hi:.2f}: {n} image(s)</title></rect>"
        )
        if n:
            parts.append(
                f'<text x="{x + bar_w / 2 - 1:.1f}" y="{y - 3:.1f}" class="count">{n}</text>'
            )
    for tick in range(0, 11, 2):
        x = pad + tick / 10 * (width - 2 * pad)
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" class="tick">{tick / 10:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def page_data(entries: list[Entry], pictures) -> dict:
    """What the page's script renders: one record per image."""
    rows = []
    for entry, pic in zip(entries, pictures, strict=True):
        rows.append(
            {
                "key": entry.key,
                "id": entry.id,
                "run": entry.run,
                "diagnosis": entry.diagnosis,
                "thumb": pic.thumbnail,
                "full": pic.full,
                "width": pic.width,
                "height": pic.height,
                **{c: entry.scores.get(c) for c in COLUMNS},
            }
        )
    return {"columns": list(COLUMNS), "rows": rows}


def _summary(entries: list[Entry]) -> str:
    parts = [f"{len(entries)} images"]
    for c in COLUMNS:
        values = [e.scores[c] for e in entries if c in e.scores]
        if values:
            parts.append(f"mean {c} {statistics.fmean(values):.4f}")
    return ", ".join(parts)


def render_page(entries: list[Entry], pictures, title: str, source: str) -> str:
    """The page's HTML."""
    template = resources.files("skinseg.review").joinpath("page.html").read_text("utf-8")
    data = json.dumps(page_data(entries, pictures), separators=(",", ":"))
    data = data.replace("</", "<\\/").replace("<!--", "<\\!--")
    values = [e.scores["jaccard"] for e in entries if "jaccard" in e.scores]
    fill = {
        "__TITLE__": html.escape(title),
        "__SOURCE__": html.escape(source),
        "__GENERATED__": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "__SUMMARY__": html.escape(_summary(entries)),
        "__TRUTH__": _hex(TRUTH_COLOUR),
        "__PREDICTION__": _hex(PREDICTION_COLOUR),
        "__HISTOGRAM__": histogram_svg(values),
        "__DATA__": data,
    }
    for key, value in fill.items():
        template = template.replace(key, value)
    return template


def write_review(folder: str | Path, output: str | Path | None = None) -> Path:
    """Write ``review.html`` (default: in ``folder``) and its pictures folder
    (``review_files/`` beside it) for the evaluation in ``folder``.

    Every table and file is read and checked before anything is written; the pictures are
    drawn into a temporary folder that replaces the old one only when complete, and the page
    is written last, atomically.

    Raises:
        FileNotFoundError: no evaluation there (see :func:`find_tables`).
        ValueError: tables without picture paths, missing files, masks of the wrong size.
    """
    folder = Path(folder)
    entries = read_entries(find_tables(folder))
    if not entries:
        raise ValueError(f"{folder}: the per-image tables have no rows")
    output = Path(output) if output else folder / "review.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    files = output.with_name(output.stem + "_files")
    staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{files.name}."))
    try:
        pictures = write_pictures(entries, staging / files.name)
        if files.exists():
            old = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{files.name}.old."))
            os.replace(files, old / files.name)
        os.replace(staging / files.name, files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for old in output.parent.glob(f".{files.name}.old.*"):
            shutil.rmtree(old, ignore_errors=True)
    page = render_page(entries, pictures, f"skinseg review: {folder.resolve().name}", str(folder))
    write_text(output, page)
    return output
