"""The review page: one HTML file (inline script and styles, no network) over its pictures.

Two modes share the page: a review of one evaluation (every image, worst first) and a
comparison of two evaluations of the same images (two models, or one before and after
fine-tuning), side by side and sorted by the difference.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import statistics
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from skinseg.atomic import write_text
from skinseg.evaluation import summarise
from skinseg.evaluation.intervals import LEVEL, RESAMPLES, SEED, bootstrap_interval
from skinseg.metrics.functional import ISIC_JACCARD_THRESHOLD
from skinseg.recipe import PREDICTION_COLOUR, TRUTH_COLOUR
from skinseg.review.render import Pictures, write_pictures
from skinseg.review.sources import Entry, find_tables, pair_entries, read_context, read_entries

# The per-image columns: (key, label, kind); "pass" is the ISIC threshold-Jaccard pass.
COLUMNS = (
    ("jaccard", "Jaccard", "score"),
    ("pass", f"J ≥ {ISIC_JACCARD_THRESHOLD}", "pass"),
    ("dice", "Dice", "score"),
    ("sensitivity", "sensitivity", "score"),
    ("specificity", "specificity", "score"),
    ("area_ratio", "area ratio (pred / true)", "ratio"),
)
SUMMARY_SCORES = ("jaccard", "threshold_jaccard", "dice", "sensitivity", "specificity")
COMPARED = ("jaccard", "dice")  # scores whose difference a comparison summarises
BINS = 20  # of the histogram


def _hex(colour: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in colour)


def histogram_svg(
    values: list[float],
    label: str = "Jaccard",
    lo: float = 0.0,
    hi: float = 1.0,
    bins: int = BINS,
    width=640,
    height=140,
) -> str:
    """An SVG bar chart of values in [lo, hi]; each bar carries its range (``data-lo``,
    ``data-hi``) so that a click can filter the table to it."""
    counts = [0] * bins
    for v in values:
        counts[min(max(int((v - lo) / (hi - lo) * bins), 0), bins - 1)] += 1
    top = max(counts) or 1
    pad, axis = 28, 18
    bar_w = (width - 2 * pad) / bins
    parts = [
        f'<svg id="histogram" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="Histogram of per-image {html.escape(label)}">'
    ]
    for i, n in enumerate(counts):
        a, b = lo + (hi - lo) * i / bins, lo + (hi - lo) * (i + 1) / bins
        h = (height - axis - 16) * n / top
        x, y = pad + i * bar_w, height - axis - h
        parts.append(
            f'<rect class="bar" data-lo="{a:.2f}" data-hi="{b:.2f}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{bar_w - 2:.1f}" height="{max(h, 0.5):.1f}">'
            f"<title>{html.escape(label)} {a:.2f} to {b:.2f}: {n} image(s)</title></rect>"
        )
        if n:
            parts.append(
                f'<text x="{x + bar_w / 2 - 1:.1f}" y="{y - 3:.1f}" class="count">{n}</text>'
            )
    for tick in range(0, 11, 2):
        x = pad + tick / 10 * (width - 2 * pad)
        value = lo + (hi - lo) * tick / 10
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" class="tick">{value:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _values(entry: Entry, ratio: float | None) -> dict:
    scores = entry.scores
    jaccard = scores.get("jaccard")
    return {
        "jaccard": jaccard,
        "pass": None if jaccard is None else int(jaccard >= ISIC_JACCARD_THRESHOLD),
        "dice": scores.get("dice"),
        "sensitivity": scores.get("sensitivity"),
        "specificity": scores.get("specificity"),
        "area_ratio": ratio,
    }


def page_data(groups: Sequence[Sequence[Entry]], pictures: list[Pictures], labels) -> dict:
    """What the page's script renders: the columns, and one record per image (with each
    evaluation's values suffixed ``_1``, ``_2`` in a comparison)."""
    compare = len(labels) > 1
    columns: list[dict] = []
    if compare:
        columns.append({"key": "difference", "label": "Δ Jaccard (2 − 1)", "kind": "diff"})
    for key, label, kind in COLUMNS:
        for i in range(len(labels)):
            suffix = f"_{i + 1}" if compare else ""
            shown = f"{label} ({i + 1})" if compare else label
            columns.append({"key": key + suffix, "label": shown, "kind": kind})
    rows = []
    for group, pic in zip(groups, pictures, strict=True):
        first = group[0]
        row = {
            "key": first.key,
            "id": first.id,
            "run": first.run,
            "diagnosis": first.diagnosis,
            "thumbs": list(pic.thumbnails),
            "fulls": list(pic.fulls),
            "plain": pic.plain,
            "width": pic.width,
            "height": pic.height,
            "crop": list(pic.crop),
        }
        for i, (entry, ratio) in enumerate(zip(group, pic.area_ratios, strict=True)):
            suffix = f"_{i + 1}" if compare else ""
            row.update({k + suffix: v for k, v in _values(entry, ratio).items()})
        if compare:
            row["difference"] = group[1].scores["jaccard"] - group[0].scores["jaccard"]
        rows.append(row)
    return {
        "mode": "compare" if compare else "review",
        "labels": list(labels),
        "columns": columns,
        "sort": "difference" if compare else "jaccard",
        "histogram": "difference" if compare else "jaccard",
        "rows": rows,
    }


def _interval_cell(values: list[float]) -> str:
    if not values:
        return "<td></td>"
    lo, hi = bootstrap_interval(values)
    mean = statistics.fmean(values)
    return f'<td class="num">{mean:.4f} <small>[{lo:.3f}, {hi:.3f}]</small></td>'


def _by_diagnosis(entries: Sequence[Entry]) -> list[tuple[str, list[int]]]:
    """``("all", every index)`` then one group per diagnosis, where the entries have them."""
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        groups.setdefault(e.diagnosis or "unlabelled", []).append(i)
    out = [("all images", list(range(len(entries))))]
    if set(groups) != {"unlabelled"}:
        out += sorted(groups.items())
    return out


def summary_table(entries: Sequence[Entry]) -> str:
    """Means with 95 % bootstrap intervals, for all images and per diagnosis, as
    :func:`~skinseg.evaluation.summarise` gives them (the numbers of ``summary.json``)."""
    summary = summarise([{**e.scores, "diagnosis": e.diagnosis} for e in entries], intervals=True)
    head = "".join(f"<th>{s.replace('_', ' ')}</th>" for s in SUMMARY_SCORES)
    lines = [f'<table class="summary"><thead><tr><th></th><th>images</th>{head}</tr></thead>']
    for name, group in [("all images", summary), *summary.get("by_diagnosis", {}).items()]:
        cells = "".join(
            f'<td class="num">{group[s]:.4f} <small>[{group["interval"][s][0]:.3f}, '
            f"{group['interval'][s][1]:.3f}]</small></td>"
            for s in SUMMARY_SCORES
        )
        lines.append(f"<tr><th>{html.escape(name)}</th><td>{group['images']}</td>{cells}</tr>")
    lines.append("</table>")
    return "".join(lines)


def comparison_table(pairs: Sequence[tuple[Entry, Entry]], labels: Sequence[str]) -> str:
    """Each evaluation's mean and the paired difference (2 − 1), with 95 % bootstrap
    intervals, for all images and per diagnosis; how many images each does better on."""
    head = "".join(f"<th>{s} (1)</th><th>{s} (2)</th><th>Δ {s} (2 − 1)</th>" for s in COMPARED)
    lines = [
        f'<table class="summary"><thead><tr><th></th><th>images</th>{head}'
        "<th>better (2) / worse / same</th></tr></thead>"
    ]
    firsts = [a for a, _ in pairs]
    for name, idx in _by_diagnosis(firsts):
        cells = []
        for s in COMPARED:
            a = [pairs[i][0].scores[s] for i in idx]
            b = [pairs[i][1].scores[s] for i in idx]
            cells += [_interval_cell(a), _interval_cell(b)]
            cells.append(_interval_cell([y - x for x, y in zip(a, b, strict=True)]))
        d = [pairs[i][1].scores["jaccard"] - pairs[i][0].scores["jaccard"] for i in idx]
        counts = f"{sum(v > 0 for v in d)} / {sum(v < 0 for v in d)} / {sum(v == 0 for v in d)}"
        lines.append(
            f"<tr><th>{html.escape(name)}</th><td>{len(idx)}</td>{''.join(cells)}"
            f'<td class="num">{counts}</td></tr>'
        )
    lines.append("</table>")
    return "".join(lines)


def _describe_model(context: dict) -> str:
    model = context.get("model") or {}
    if not model:
        return "not recorded (an evaluation written before skinseg kept it)"
    if "predictions" in model:
        return f"masks read from <code>{html.escape(str(model['predictions']))}</code>"
    recipe = model.get("recipe") or {}
    post = [name for name in ("largest_component", "fill_holes") if recipe.get(name)]
    parts = [
        f"<code>{html.escape(str(model.get('file')))}</code>",
        f"SHA-256 <code>{html.escape(str(model.get('sha256', ''))[:16])}</code>",
    ]
    if recipe:
        parts.append(f"threshold {recipe.get('threshold')}")
        parts.append(f"TTA {'on' if recipe.get('tta') else 'off'}")
        parts.append("post-processing " + (", ".join(post).replace("_", " ") or "none"))
    return ", ".join(parts)


def _describe_data(context: dict) -> str:
    data = context.get("data") or {}
    if not data:
        return ""
    keys = ("dataset", "root", "images", "masks", "fold", "num_folds")
    shown = [f"{k} <code>{html.escape(str(data[k]))}</code>" for k in keys if data.get(k)]
    return ", ".join(shown)


def provenance(contexts: Sequence[list[dict]], labels: Sequence[str], count: int) -> str:
    """The header's lines: which model made each evaluation's masks, on which data."""
    lines = []
    for label, runs in zip(labels, contexts, strict=True):
        prefix = f"<strong>{html.escape(label)}</strong>: " if len(labels) > 1 else ""
        shown = runs[:4]
        for ctx in shown:
            run = f" (run <code>{html.escape(ctx['run'])}</code>)" if ctx["run"] else ""
            data = _describe_data(ctx)
            lines.append(
                f"<li>{prefix}model {_describe_model(ctx)}{run}"
                + (f"; data {data}" if data else "")
                + "</li>"
            )
        if len(runs) > len(shown):
            lines.append(f"<li>{prefix}... and {len(runs) - len(shown)} more runs</li>")
    lines.append(f"<li>{count} images</li>")
    return '<ul class="provenance">' + "".join(lines) + "</ul>"


def render_page(
    groups: Sequence[Sequence[Entry]],
    pictures: list[Pictures],
    title: str,
    sources: Sequence[str],
    contexts: Sequence[list[dict]],
) -> str:
    """The page's HTML: one evaluation (``groups`` of one entry) or a comparison (two)."""
    template = resources.files("skinseg.review").joinpath("page.html").read_text("utf-8")
    labels = [f"{i + 1}: {s}" for i, s in enumerate(sources)] if len(sources) > 1 else sources
    payload = page_data(groups, pictures, labels)
    data = json.dumps(payload, separators=(",", ":"))
    data = data.replace("</", "<\\/").replace("<!--", "<\\!--")
    if len(sources) > 1:
        pairs = [(g[0], g[1]) for g in groups]
        values = [r["difference"] for r in payload["rows"]]
        histogram = histogram_svg(values, "Δ Jaccard", -1.0, 1.0)
        summary = comparison_table(pairs, labels)
    else:
        entries = [g[0] for g in groups]
        histogram = histogram_svg([e.scores["jaccard"] for e in entries if "jaccard" in e.scores])
        summary = summary_table(entries)
    note = (
        f"Means with {LEVEL:.0%} bootstrap intervals ({RESAMPLES} resamples of the images, "
        f"seed {SEED})."
    )
    fill = {
        "__TITLE__": html.escape(title),
        "__SOURCE__": ", ".join(f"<code>{html.escape(s)}</code>" for s in sources),
        "__GENERATED__": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "__PROVENANCE__": provenance(contexts, labels, len(groups)),
        "__SUMMARY__": summary,
        "__SUMMARY_NOTE__": html.escape(note),
        "__TRUTH__": _hex(TRUTH_COLOUR),
        "__PREDICTION__": _hex(PREDICTION_COLOUR),
        "__HISTOGRAM__": histogram,
        "__DATA__": data,
    }
    for key, value in fill.items():
        template = template.replace(key, value)
    return template


def _write(groups, output: Path, title: str, sources: list[str], contexts) -> Path:
    """Draw the pictures into a temporary folder that replaces the old one only when
    complete, then write the page atomically."""
    output.parent.mkdir(parents=True, exist_ok=True)
    files = output.with_name(output.stem + "_files")
    staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{files.name}."))
    try:
        pictures = write_pictures(groups, staging / files.name)
        if files.exists():
            old = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{files.name}.old."))
            os.replace(files, old / files.name)
        os.replace(staging / files.name, files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for old in output.parent.glob(f".{files.name}.old.*"):
            shutil.rmtree(old, ignore_errors=True)
    write_text(output, render_page(groups, pictures, title, sources, contexts))
    return output


def _read(folder: Path) -> tuple[list[Entry], list[dict]]:
    tables = find_tables(folder)
    entries = read_entries(tables)
    if not entries:
        raise ValueError(f"{folder}: the per-image tables have no rows")
    return entries, read_context(tables)


def write_review(folder: str | Path, output: str | Path | None = None) -> Path:
    """Write ``review.html`` (default: in ``folder``) and its pictures folder
    (``review_files/`` beside it) for the evaluation in ``folder``.

    Every table and file is read and checked before anything is written.

    Raises:
        FileNotFoundError: no evaluation there (see :func:`find_tables`).
        ValueError: tables without picture paths, missing files, masks of the wrong size.
    """
    folder = Path(folder)
    entries, context = _read(folder)
    output = Path(output) if output else folder / "review.html"
    title = f"skinseg review: {folder.resolve().name}"
    return _write([[e] for e in entries], output, title, [str(folder)], [context])


def write_comparison(
    first: str | Path, second: str | Path, output: str | Path | None = None
) -> Path:
    """Write a comparison page (default: ``compare.html`` in ``second``) of two evaluations of
    the same images: each image's pictures side by side, sorted by the difference in Jaccard
    (second − first), with the paired difference's interval.

    Raises:
        FileNotFoundError: either folder holds no evaluation.
        ValueError: the two share no image, or their truths differ.
    """
    first, second = Path(first), Path(second)
    entries_1, context_1 = _read(first)
    entries_2, context_2 = _read(second)
    pairs = pair_entries(entries_1, entries_2)
    output = Path(output) if output else second / "compare.html"
    title = f"skinseg comparison: {first.resolve().name} and {second.resolve().name}"
    return _write(
        [list(p) for p in pairs], output, title, [str(first), str(second)], [context_1, context_2]
    )
