"""Paired comparisons between cells of a sweep (model x loss over folds or seeds).

Two cells trained on the same folds (or seeds) are compared pair by pair, so that the spread
between folds, which is usually larger than the effect, cancels out:

- over folds/seeds: the mean difference of a run metric, a 95 % t interval and a paired t-test;
- over images: each image of the data is scored once, in the fold that held it out
  (``test_per_image.csv``), and the per-image differences get a Wilcoxon signed-rank test.

p-values of one family of comparisons are Holm-adjusted, since several are read at once.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

RUN_KEY = "test_full/jaccard"  # the recipe's masks at full resolution, per-image mean
IMAGE_KEY = "jaccard"


@dataclass
class Comparison:
    """``a`` against ``b`` (differences are a - b)."""

    a: str
    b: str
    scope: str  # what was held equal, e.g. "loss=dice" or "all losses"
    pairs: int
    mean_a: float
    mean_b: float
    diff: float
    ci95: tuple[float, float]
    wins: int  # pairs where a > b
    p_t: float  # paired t-test over runs
    images: int = 0
    image_diff: float = float("nan")
    p_wilcoxon: float = float("nan")  # over images
    p_holm: dict = field(default_factory=dict)


def per_image_scores(run: dict, key: str = IMAGE_KEY) -> dict[str, float]:
    """``{image id: score}`` from a run's ``test_per_image.csv`` (empty if there is none)."""
    from skinseg.evaluation import read_per_image

    path = Path(run.get("run_dir", "")) / "test_per_image.csv"
    if not path.is_file():
        return {}
    return {row["id"]: row[key] for row in read_per_image(path)}


def run_metric(run: dict, key: str = RUN_KEY) -> float | None:
    """A test metric of a run, falling back to the training-resolution Jaccard."""
    test = run.get("test", {})
    value = test.get(key, test.get("test/jaccard"))
    return None if value is None or not math.isfinite(value) else float(value)


def _pair_id(run: dict) -> tuple:
    return (run.get("fold"), run.get("seed"))


def _t_test(diffs: list[float]) -> tuple[tuple[float, float], float]:
    from scipy import stats

    n = len(diffs)
    mean = statistics.fmean(diffs)
    if n < 2:
        return (float("nan"), float("nan")), float("nan")
    sd = statistics.stdev(diffs)
    if sd == 0:
        return (mean, mean), (1.0 if mean == 0 else 0.0)
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    p = float(stats.ttest_1samp(diffs, 0.0).pvalue)
    return (mean - half, mean + half), p


def wilcoxon_p(diffs: list[float]) -> float:
    from scipy import stats

    nonzero = [d for d in diffs if d != 0]
    if len(nonzero) < 2:
        return float("nan")
    return float(stats.wilcoxon(nonzero).pvalue)


def _paired(
    runs: list[dict], a: tuple[str, str], b: tuple[str, str]
) -> tuple[dict[tuple, tuple[float, float]], dict[str, float]]:
    """Run-metric pairs ``{fold/seed: (a, b)}`` and per-image differences ``{image: a - b}``."""
    cells: dict[tuple[str, str], dict[tuple, dict]] = defaultdict(dict)
    for run in runs:
        if run.get("status") == "completed":
            cells[(str(run.get("model")), str(run.get("loss")))][_pair_id(run)] = run
    return _pair_runs(cells[a], cells[b])


def _pair_runs(
    a: dict[tuple, dict], b: dict[tuple, dict]
) -> tuple[dict[tuple, tuple[float, float]], dict[str, float]]:
    """Pairs of runs ``{fold/seed: run}`` of two cells or recipes: their run metrics and their
    per-image differences."""
    pairs, images = {}, {}
    for k in set(a) & set(b):
        x, y = run_metric(a[k]), run_metric(b[k])
        if x is None or y is None:
            continue
        pairs[k] = (x, y)
        scores_a, scores_b = per_image_scores(a[k]), per_image_scores(b[k])
        for i in set(scores_a) & set(scores_b):
            images[f"{k}/{i}" if i in images else i] = scores_a[i] - scores_b[i]
    return pairs, images


def _comparison(
    a: str, b: str, scope: str, pairs: dict[tuple, tuple[float, float]], images: dict[str, float]
) -> Comparison | None:
    if not pairs:
        return None
    diffs = [x - y for x, y in pairs.values()]
    ci, p_t = _t_test(diffs)
    return Comparison(
        a=a,
        b=b,
        scope=scope,
        pairs=len(pairs),
        mean_a=statistics.fmean(x for x, _ in pairs.values()),
        mean_b=statistics.fmean(y for _, y in pairs.values()),
        diff=statistics.fmean(diffs),
        ci95=ci,
        wins=sum(d > 0 for d in diffs),
        p_t=p_t,
        images=len(images),
        image_diff=statistics.fmean(images.values()) if images else float("nan"),
        p_wilcoxon=wilcoxon_p(list(images.values())),
    )


def compare(
    runs: list[dict],
    a: tuple[str, str],
    b: tuple[str, str],
    scope: str,
) -> Comparison | None:
    """Compare cell ``a = (model, loss)`` with cell ``b`` over the folds/seeds both have."""
    return _comparison("+".join(a), "+".join(b), scope, *_paired(runs, a, b))


def compare_recipes(
    runs_a: list[dict], runs_b: list[dict], a: str, b: str, scope: str = "same folds"
) -> Comparison | None:
    """Runs of recipe ``a`` against runs of recipe ``b`` (any model and loss), paired by
    fold/seed: fine-tuning against training from scratch, a variant against its base."""

    def by_pair(runs: list[dict]) -> dict[tuple, dict]:
        return {_pair_id(r): r for r in runs if r.get("status") == "completed"}

    return _comparison(a, b, scope, *_pair_runs(by_pair(runs_a), by_pair(runs_b)))


def compare_pooled(
    runs: list[dict], factor: str, a: str, b: str, others: list[str]
) -> Comparison | None:
    """Level ``a`` of ``factor`` (``model`` or ``loss``) against level ``b``, averaged over the
    levels ``others`` of the other factor: per fold/seed and per image, the difference is the
    mean of the differences at each other level, so each fold and each image counts once."""
    folds: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    images: dict[str, list[float]] = defaultdict(list)
    for level in others:
        cell_a, cell_b = ((a, level), (b, level)) if factor == "model" else ((level, a), (level, b))
        pairs, diffs = _paired(runs, cell_a, cell_b)
        for k, v in pairs.items():
            folds[k].append(v)
        for i, d in diffs.items():
            images[i].append(d)
    complete = {k: v for k, v in folds.items() if len(v) == len(others)}
    averaged = {
        k: (statistics.fmean(x for x, _ in v), statistics.fmean(y for _, y in v))
        for k, v in complete.items()
    }
    image_means = {i: statistics.fmean(d) for i, d in images.items() if len(d) == len(others)}
    plural = {"model": "losses", "loss": "models"}[factor]
    return _comparison(a, b, f"all {plural} ({', '.join(others)})", averaged, image_means)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN), in the input order."""
    indexed = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    adjusted = [float("nan")] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (len(indexed) - rank) * p))
        adjusted[i] = running
    return adjusted


def model_and_loss_comparisons(
    runs: list[dict],
    model_pairs: list[tuple[str, str]],
    loss_pairs: list[tuple[str, str]],
) -> list[Comparison]:
    """Each model pair within each loss and pooled over losses; each loss pair within each
    model and pooled over models; Holm-adjusted within the pooled family and within each
    per-cell family."""
    models = sorted({str(r.get("model")) for r in runs})
    losses = sorted({str(r.get("loss")) for r in runs})
    out: list[Comparison] = []
    plans = [("model", pair, losses) for pair in model_pairs]
    plans += [("loss", pair, models) for pair in loss_pairs]
    for factor, (a, b), others in plans:
        for level in others:
            cells = ((a, level), (b, level)) if factor == "model" else ((level, a), (level, b))
            out.append(compare(runs, *cells, f"{'loss' if factor == 'model' else 'model'}={level}"))
        out.append(compare_pooled(runs, factor, a, b, others))
    out = [c for c in out if c is not None]
    for family in ("pooled", "cell"):
        members = [c for c in out if (c.scope.startswith("all")) == (family == "pooled")]
        for c, p_t, p_w in zip(
            members,
            holm([c.p_t for c in members]),
            holm([c.p_wilcoxon for c in members]),
            strict=True,
        ):
            c.p_holm = {"t": p_t, "wilcoxon": p_w}
    return out


def markdown(comparisons: list[Comparison]) -> str:
    """A table of comparisons (differences a - b in the run metric and per image)."""
    head = (
        "| a | b | held equal | pairs | mean a | mean b | a − b (95 % CI) | a wins | p (t, folds) "
        "| p Holm | images | a − b per image | p (Wilcoxon, images) | p Holm |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for c in comparisons:
        lines.append(
            f"| {c.a} | {c.b} | {c.scope} | {c.pairs} | {c.mean_a:.4f} | {c.mean_b:.4f} | "
            f"{c.diff:+.4f} ({c.ci95[0]:+.4f}, {c.ci95[1]:+.4f}) | {c.wins}/{c.pairs} | "
            f"{_p(c.p_t)} | {_p(c.p_holm.get('t', float('nan')))} | {c.images} | "
            f"{c.image_diff:+.4f} | {_p(c.p_wilcoxon)} | "
            f"{_p(c.p_holm.get('wilcoxon', float('nan')))} |"
        )
    return "\n".join(lines)


def _p(p: float) -> str:
    if math.isnan(p):
        return "n/a"
    return f"{p:.2g}" if p >= 1e-4 else "< 1e-4"
