"""Time to quality: how many epochs and seconds a recipe needs to reach given validation scores.

    python -m benchmarks.time_to_quality experiment=ph2_best data.root=../shared/data/PH2Dataset \
        [--folds 5] [--only 0 1] [--levels 0.80 0.85] [--metric val/jaccard] \
        [--out logs/ttq/ph2_best] [more overrides]
    python -m benchmarks.time_to_quality --runs logs/cv/ph2_best [--label before] \
        --runs logs/cv/ph2_new [--label after]

The first form trains the recipe's cross-validation folds (as ``benchmarks.crossval`` does,
finished folds are skipped) and reads them; the second reads runs that exist (a run folder, or
a folder of ``fold*/`` runs), one group per ``--runs``. From each run's per-epoch history in
``metrics.json`` (validation scores and ``time_s``, the seconds of fitting so far) it reports
the first epoch and the time at which the metric reaches each level, the group's mean curve,
and writes ``time_to_quality.md`` and ``time_to_quality.png`` in ``--out``. Seconds depend on
the machine (the CPU model is printed with them); epochs do not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from benchmarks.runner import ROOT, run_all


def reached(history: list[dict], metric: str, level: float) -> dict | None:
    """The first history row whose ``metric`` is at least ``level`` (None if never)."""
    for row in history:
        value = row.get(metric)
        if value is not None and value >= level:
            return row
    return None


def run_dirs(path: Path) -> list[Path]:
    """A run folder itself, or the ``fold*/`` runs (or any runs) below a folder."""
    if (path / "metrics.json").is_file():
        return [path]
    runs = sorted(p.parent for p in path.glob("*/metrics.json"))
    if not runs:
        raise SystemExit(f"{path}: no metrics.json in it or in its sub-folders")
    return runs


def group_table(label: str, runs: list[Path], metric: str, levels: list[float]) -> list[dict]:
    """One row per run: epochs and seconds to each level, final and best value."""
    rows = []
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
        history = metrics.get("history") or []
        values = [h[metric] for h in history if h.get(metric) is not None]
        row = {
            "group": label,
            "run": run.name,
            "epochs": len(history),
            "final": values[-1] if values else None,
            "best": max(values) if values else None,
            "history": history,
        }
        for level in levels:
            hit = reached(history, metric, level)
            row[f"epoch@{level:g}"] = None if hit is None else hit["epoch"] + 1  # epochs run
            row[f"time@{level:g}"] = None if hit is None else hit.get("time_s")
        rows.append(row)
    return rows


def _mean(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def _cell(value, digits: int = 1) -> str:
    if value is None:
        return "not reached"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown(rows: list[dict], metric: str, levels: list[float], cpu: str) -> str:
    heads = ["group", "run", "epochs", f"final {metric}", f"best {metric}"]
    for level in levels:
        heads += [f"epochs to {level:g}", f"seconds to {level:g}"]
    lines = [
        f"# Time to quality ({metric})",
        "",
        f"Seconds measured on: {cpu}. A run that never reached a level counts as not reached "
        "(the group mean is over the runs that reached it).",
        "",
        "| " + " | ".join(heads) + " |",
        "|" + "---|" * len(heads),
    ]
    for row in rows:
        cells = [row["group"], row["run"], row["epochs"], _cell(row["final"], 4)]
        cells.append(_cell(row["best"], 4))
        for level in levels:
            cells += [_cell(row[f"epoch@{level:g}"]), _cell(row[f"time@{level:g}"])]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    for group in dict.fromkeys(r["group"] for r in rows):
        members = [r for r in rows if r["group"] == group]
        cells = [f"**{group} mean**", f"{len(members)} runs", ""]
        cells.append(_cell(_mean([r["final"] for r in members]), 4))
        cells.append(_cell(_mean([r["best"] for r in members]), 4))
        for level in levels:
            hits = [r for r in members if r[f"epoch@{level:g}"] is not None]
            cells += [
                f"{_cell(_mean([r[f'epoch@{level:g}'] for r in hits]))} ({len(hits)}/"
                f"{len(members)} reached)",
                _cell(_mean([r[f"time@{level:g}"] for r in hits])),
            ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], metric: str, levels: list[float], path: Path) -> None:
    """The metric against epochs and against seconds, one line per run, coloured by group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(r["group"] for r in rows))
    colours = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for row in rows:
        colour = colours[groups.index(row["group"]) % len(colours)]
        points = [h for h in row["history"] if h.get(metric) is not None]
        epochs = [h["epoch"] + 1 for h in points]
        values = [h[metric] for h in points]
        axes[0].plot(epochs, values, color=colour, alpha=0.7, lw=1)
        times = [h.get("time_s") for h in points]
        if all(t is not None for t in times):
            axes[1].plot(times, values, color=colour, alpha=0.7, lw=1)
    for ax, xlabel in zip(axes, ("epoch", "seconds of fitting"), strict=True):
        for level in levels:
            ax.axhline(level, color="grey", ls=":", lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(metric)
        ax.set_ylim(0, 1)
    for i, group in enumerate(groups):
        axes[0].plot([], [], color=colours[i % len(colours)], label=group)
    axes[0].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, action="append", default=[], help="runs to read")
    parser.add_argument("--label", action="append", default=[], help="a name per --runs")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only", type=int, nargs="+", default=None, help="these folds only")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--levels", type=float, nargs="+", default=[0.80, 0.85])
    parser.add_argument("--metric", default="val/jaccard")
    parser.add_argument("--out", type=Path, default=None)
    args, overrides = parser.parse_known_args(argv)
    if args.runs and overrides:
        parser.error("give --runs to read, or overrides to train, not both")
    if not args.runs and not overrides:
        parser.error("nothing to do: give overrides to train (experiment=...) or --runs")
    from skinseg.hardware import cpu_description

    if overrides:
        name = next((o.split("=", 1)[1] for o in overrides if o.startswith("experiment=")), "run")
        out = (args.out or ROOT / "logs" / "ttq" / name).resolve()
        folds = args.only if args.only is not None else range(args.folds)
        jobs = [
            (out / f"fold{k}", [*overrides, f"data.num_folds={args.folds}", f"data.fold={k}"])
            for k in folds
        ]
        run_all(jobs, args.parallel)
        groups = [(name, [job[0] for job in jobs])]
    else:
        labels = args.label + [p.name for p in args.runs[len(args.label) :]]
        groups = [(label, run_dirs(p)) for label, p in zip(labels, args.runs, strict=True)]
        out = (args.out or args.runs[0]).resolve()
    rows = [
        row for label, runs in groups for row in group_table(label, runs, args.metric, args.levels)
    ]
    cpu = cpu_description()
    text = markdown(rows, args.metric, args.levels, f"{cpu['model']} ({', '.join(cpu['flags'])})")
    out.mkdir(parents=True, exist_ok=True)
    (out / "time_to_quality.md").write_text(text, encoding="utf-8")
    plot(rows, args.metric, args.levels, out / "time_to_quality.png")
    print(text)
    print(f"wrote {out / 'time_to_quality.md'} and time_to_quality.png")
    return 0 if all(r["best"] is not None for r in rows) else 1  # every run validated


if __name__ == "__main__":
    sys.exit(main())
