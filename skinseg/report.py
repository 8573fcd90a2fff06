"""Sweep reports: one model x loss table and two figures for a whole multirun directory."""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

from skinseg.atomic import atomic_path, write_text

COLUMNS = (
    ("test/iou", "IoU"),
    ("test/jaccard", "Jaccard"),
    ("test/dice", "Dice"),
    ("test/threshold_jaccard", "Thr. Jaccard"),
    # The shipped recipe (TTA, post-processing, chosen threshold) at each image's own size.
    ("test_full/jaccard", "Jaccard (full res.)"),
    ("test_full/threshold_jaccard", "Thr. Jaccard (full res.)"),
)


def history_from_events(run_dir: Path, tag: str = "val/iou") -> list[dict]:
    """Per-epoch ``tag`` from a run's TensorBoard events (for runs whose metrics.json has no
    history, e.g. written by an older version or cut short)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    history: list[dict] = []
    for folder in sorted({p.parent for p in run_dir.rglob("events.out.tfevents*")}):
        acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        acc.Reload()
        if tag in acc.Tags().get("scalars", []):
            history = [{"epoch": i, tag: e.value} for i, e in enumerate(acc.Scalars(tag))]
    return history


def load_runs(sweep_dir: str | Path) -> list[dict]:
    """Every run's ``metrics.json`` under ``sweep_dir`` (each with its ``run_dir`` added).

    Raises:
        FileNotFoundError: ``sweep_dir`` is missing or holds no ``metrics.json``.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep directory {sweep_dir} not found")
    runs = []
    for path in sorted(sweep_dir.rglob("metrics.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a readable metrics.json ({exc})") from exc
        data["run_dir"] = str(path.parent)
        if not data.get("history"):
            data["history"] = history_from_events(path.parent)
        runs.append(data)
    if not runs:
        raise FileNotFoundError(f"no metrics.json under {sweep_dir}; is it a skinseg multirun?")
    return runs


def _mean_std(values: list[float]) -> tuple[float, float | None]:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return float("nan"), None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def _fmt(mean: float, std: float | None, digits: int = 4) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def cell_rows(runs: list[dict]) -> list[dict]:
    """One row per (model, loss) cell with mean and std over its runs (seeds or folds)."""
    cells: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for run in runs:
        cells[(str(run.get("model", "?")), str(run.get("loss", "?")))].append(run)
    rows = []
    for (model, loss), members in sorted(cells.items()):
        row = {
            "model": model,
            "loss": loss,
            "runs": len(members),
            "failed": sum(r.get("status") != "completed" for r in members),
            "collapsed": sum(bool(r.get("collapsed")) for r in members),
        }
        for key, _ in COLUMNS:
            row[key] = _mean_std([r.get("test", {}).get(key) for r in members])
        row["val/iou"] = _mean_std([r.get("best_val", {}).get("val/iou") for r in members])
        row["parameters"] = members[0].get("parameters")
        row["wall_time_s"] = _mean_std([r.get("wall_time_s") for r in members])
        rows.append(row)
    return rows


def _rank_key(row: dict) -> float:
    for key in ("test_full/jaccard", "test/jaccard", "val/iou"):
        mean = row[key][0]
        if not math.isnan(mean):
            return mean
    return -1.0


def _present(rows: list[dict]) -> list[tuple[str, str]]:
    """The test columns some row has a value for."""
    return [(k, label) for k, label in COLUMNS if any(not math.isnan(r[k][0]) for r in rows)]


def markdown_table(rows: list[dict]) -> str:
    """The table as Markdown, the best cell (by test Jaccard, else val IoU) in bold."""
    best = max(rows, key=_rank_key) if rows else None
    columns = _present(rows)
    head = [
        "model",
        "loss",
        "runs",
        *(label for _, label in columns),
        "best val IoU",
        "parameters",
        "train time (s)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["model"], row["loss"], str(row["runs"])]
        cells += [_fmt(*row[key]) for key, _ in columns]
        cells += [
            _fmt(*row["val/iou"]),
            f"{(row['parameters'] or 0) / 1e6:.2f} M",
            _fmt(*row["wall_time_s"], digits=0),
        ]
        if row is best:
            cells = [f"**{c}**" for c in cells]
        if row["failed"]:
            cells[2] += f" ({row['failed']} failed)"
        if row["collapsed"]:
            cells[2] += f" ({row['collapsed']} collapsed)"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(rows: list[dict], path: Path) -> None:
    fields = ["model", "loss", "runs", "failed", "collapsed"]
    for key, _ in (*COLUMNS, ("val/iou", ""), ("wall_time_s", "")):
        fields += [f"{key}_mean", f"{key}_std"]
    fields.append("parameters")
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            out = {
                k: row[k] for k in ("model", "loss", "runs", "failed", "collapsed", "parameters")
            }
            for key, _ in (*COLUMNS, ("val/iou", ""), ("wall_time_s", "")):
                out[f"{key}_mean"], out[f"{key}_std"] = row[key]
            writer.writerow(out)


def plot_curves(runs: list[dict], path: Path) -> None:
    """Validation IoU per epoch, one labelled line per model x loss cell (the mean of its runs,
    with their range shaded, when it has several)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    cmap = plt.get_cmap("tab10")
    models = sorted({str(r.get("model")) for r in runs})
    styles = ["-", "--", ":", "-."]
    losses = sorted({str(r.get("loss")) for r in runs})
    cells: dict[tuple[str, str], list[list[dict]]] = defaultdict(list)
    for run in runs:
        hist = [h for h in run.get("history", []) if h.get("val/iou") is not None]
        if hist:
            cells[(str(run.get("model")), str(run.get("loss")))].append(hist)
    for (model, loss), hists in sorted(cells.items()):
        colour = cmap(models.index(model) % 10)
        style = styles[losses.index(loss) % len(styles)]
        label = f"{model} + {loss}"
        if len(hists) == 1:
            xs, mean = [h["epoch"] + 1 for h in hists[0]], [h["val/iou"] for h in hists[0]]
        else:  # folds or seeds: their mean, and a band from the lowest to the highest
            by_epoch: dict[int, list[float]] = defaultdict(list)
            for hist in hists:
                for h in hist:
                    by_epoch[h["epoch"] + 1].append(h["val/iou"])
            xs = sorted(by_epoch)
            mean = [statistics.fmean(by_epoch[x]) for x in xs]
            ax.fill_between(
                xs,
                [min(by_epoch[x]) for x in xs],
                [max(by_epoch[x]) for x in xs],
                color=colour,
                alpha=0.08,
            )
            label += f" (mean of {len(hists)})"
        ax.plot(xs, mean, style, color=colour, label=label, linewidth=1.6)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation IoU")
    ax.set_title("Validation IoU per epoch (colour: model, line style: loss)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2 if len(cells) > 6 else 1, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_heatmap(rows: list[dict], path: Path, key: str | None = None) -> None:
    """The model x loss grid of ``key`` (by default full-resolution Jaccard, else test IoU,
    else best validation IoU)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    for candidate in [key] if key else ["test_full/jaccard", "test/iou"]:
        if any(not math.isnan(r[candidate][0]) for r in rows):
            key = candidate
            break
    else:
        key = "val/iou"
    models = sorted({r["model"] for r in rows})
    losses = sorted({r["loss"] for r in rows})
    grid = np.full((len(models), len(losses)), np.nan)
    stds = {}
    for r in rows:
        i, j = models.index(r["model"]), losses.index(r["loss"])
        grid[i, j] = r[key][0]
        stds[i, j] = r[key][1]
    fig, ax = plt.subplots(figsize=(1.8 * len(losses) + 2.5, 1.1 * len(models) + 1.8), dpi=120)
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(losses)), losses)
    ax.set_yticks(range(len(models)), models)
    ax.set_xlabel("loss")
    ax.set_ylabel("model")
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for (i, j), value in np.ndenumerate(grid):
        if np.isnan(value):
            continue
        text = f"{value:.3f}" + (f"\n± {stds[i, j]:.3f}" if stds.get((i, j)) else "")
        ax.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            fontsize=10,
            color="black" if value > mid else "white",
        )
    fig.colorbar(im, ax=ax, label=key)
    ax.set_title(f"{key} by model and loss")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def problems(runs: list[dict]) -> str:
    """A list of failed, interrupted and collapsed runs, so no average hides them."""
    lines = []
    for r in runs:
        name = f"{r.get('model')} + {r.get('loss')} ({r.get('run_dir')})"
        if r.get("status") != "completed":
            lines.append(f"- {name}: {r.get('status')}: {r.get('error')}")
        if r.get("collapsed"):
            lines.append(f"- {name}: validation collapsed: {r['collapsed']}")
    return ("\n**Runs to look at:**\n\n" + "\n".join(lines) + "\n") if lines else ""


def write_report(sweep_dir: str | Path, figures: bool = True) -> str:
    """Write ``results.md``, ``results.csv`` and the figures into ``sweep_dir``.

    Returns:
        The Markdown table.
    """
    sweep_dir = Path(sweep_dir)
    runs = load_runs(sweep_dir)
    rows = cell_rows(runs)
    table = markdown_table(rows)
    write_text(
        sweep_dir / "results.md",
        f"# Sweep results: {sweep_dir.name}\n\n{len(runs)} run(s). Test metrics are per-image "
        "means except IoU (dataset-level); mean ± std over runs of a cell. Best cell in bold.\n\n"
        f"{table}\n{problems(runs)}\n![validation IoU curves](val_iou_curves.png)\n\n"
        "![test IoU grid](test_iou_grid.png)\n",
    )
    write_csv(rows, sweep_dir / "results.csv")
    if figures:
        plot_curves(runs, sweep_dir / "val_iou_curves.png")
        plot_heatmap(rows, sweep_dir / "test_iou_grid.png")
    return table + ("\n" + problems(runs) if problems(runs) else "")
