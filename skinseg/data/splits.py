"""Seeded, optionally stratified train/val/test splits and k-fold selection, saved as JSON."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from skinseg.atomic import write_json

SPLIT_NAMES = ("train", "val", "test")


def _check_fraction(name: str, value: float) -> float:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


def _strata(ids: list[str], labels: dict[str, str] | None) -> list[list[str]]:
    if not labels:
        return [sorted(ids)]
    groups: dict[str, list[str]] = defaultdict(list)
    for i in ids:
        groups[labels.get(i, "unlabelled")].append(i)
    return [sorted(groups[k]) for k in sorted(groups)]


def _take(n: int, fraction: float) -> int:
    return int(round(n * fraction))


def random_split(
    ids: list[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    labels: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    """Split ``ids`` into train/val/test, stratified by ``labels`` where given.

    The result depends only on the set of ids, the fractions, the labels and the seed (not on
    the order ids were listed in).
    """
    _check_fraction("val_fraction", val_fraction)
    _check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}"
        )
    rng = np.random.default_rng(seed)
    out: dict[str, list[str]] = {k: [] for k in SPLIT_NAMES}
    for stratum in _strata(ids, labels):
        order = [stratum[i] for i in rng.permutation(len(stratum))]
        n_test = _take(len(order), test_fraction)
        n_val = _take(len(order), val_fraction)
        out["test"] += order[:n_test]
        out["val"] += order[n_test : n_test + n_val]
        out["train"] += order[n_test + n_val :]
    return {k: sorted(v) for k, v in out.items()}


def subsample(
    ids: list[str], count: int, seed: int, labels: dict[str, str] | None = None
) -> list[str]:
    """``count`` of ``ids``, drawn by the seed, each stratum (label) keeping its share (largest
    remainder): the few annotated cases a small clinic would have. With one seed, a smaller
    ``count`` takes the first cases of the same per-stratum orders, so subsets nest.

    Raises:
        ValueError: ``count`` is not in ``[1, len(ids)]``.
    """
    if not isinstance(count, int) or not 1 <= count <= len(ids):
        raise ValueError(f"cannot take {count!r} of {len(ids)} training cases")
    strata = _strata(ids, labels)
    exact = [count * len(s) / len(ids) for s in strata]
    shares = [int(e) for e in exact]
    for i in sorted(range(len(strata)), key=lambda i: shares[i] - exact[i])[: count - sum(shares)]:
        shares[i] += 1
    rng = np.random.default_rng(seed)
    chosen = []
    for stratum, share in zip(strata, shares, strict=True):
        order = [stratum[i] for i in rng.permutation(len(stratum))]
        chosen += order[:share]
    return sorted(chosen)


def kfold_split(
    ids: list[str],
    num_folds: int,
    fold: int,
    val_fraction: float,
    seed: int,
    labels: dict[str, str] | None = None,
    groups: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    """Fold ``fold`` of a ``num_folds``-fold split: that fold is the test set, and a
    ``val_fraction`` of the remaining ids is held out for validation.

    Folds are disjoint and together cover every id; stratified by ``labels`` where given.
    With ``groups`` (id -> group), whole groups are dealt to folds (:func:`group_folds`), so
    no group has images on both sides of a fold's test split; ``labels`` then stratify only
    the validation split.
    """
    if not isinstance(num_folds, int) or num_folds < 2:
        raise ValueError(f"num_folds must be an integer >= 2, got {num_folds!r}")
    if not isinstance(fold, int) or not 0 <= fold < num_folds:
        raise ValueError(f"fold must be an integer in [0, {num_folds - 1}], got {fold!r}")
    if len(ids) < num_folds:
        raise ValueError(f"cannot make {num_folds} folds of {len(ids)} images")
    _check_fraction("val_fraction", val_fraction)
    if groups is not None:
        assigned = group_folds(ids, groups, num_folds, seed)
        test = [i for i in ids if assigned[groups[i]] == fold]
        rest = [i for i in ids if assigned[groups[i]] != fold]
        return _with_validation(test, rest, val_fraction, seed, labels)
    rng = np.random.default_rng(seed)
    test, rest = [], []
    offset = 0  # deal strata round-robin so that fold sizes stay balanced
    for stratum in _strata(ids, labels):
        order = [stratum[i] for i in rng.permutation(len(stratum))]
        for j, item in enumerate(order):
            (test if (j + offset) % num_folds == fold else rest).append(item)
        offset += len(order)
    return _with_validation(test, rest, val_fraction, seed, labels)


def _with_validation(
    test: list[str], rest: list[str], val_fraction: float, seed: int, labels
) -> dict[str, list[str]]:
    rest_labels = {i: labels[i] for i in rest if i in labels} if labels else None
    inner = random_split(rest, val_fraction, 0.0, seed + 1, rest_labels)
    return {"train": inner["train"], "val": inner["val"], "test": sorted(test)}


def group_folds(ids: list[str], groups: dict[str, str], num_folds: int, seed: int) -> dict:
    """Deal whole groups to ``num_folds`` folds of near-equal image counts: ``group -> fold``.

    Largest group first (ties in a seeded order), each to the fold with the fewest images so
    far: sklearn's GroupKFold, made reproducible by the seed.

    Raises:
        ValueError: an id has no group, or there are fewer groups than folds.
    """
    missing = [i for i in ids if i not in groups]
    if missing:
        raise ValueError(f"{len(missing)} images have no group, e.g. {sorted(missing)[:3]}")
    sizes: dict[str, int] = defaultdict(int)
    for i in ids:
        sizes[groups[i]] += 1
    if len(sizes) < num_folds:
        raise ValueError(
            f"cannot make {num_folds} folds of {len(sizes)} groups ({sorted(sizes)}): "
            "lower num_folds or use finer groups"
        )
    names = sorted(sizes)
    order = np.random.default_rng(seed).permutation(len(names))
    tie = dict(zip(names, order, strict=True))
    loads = [0] * num_folds
    assigned = {}
    for g in sorted(names, key=lambda g: (-sizes[g], tie[g])):
        k = min(range(num_folds), key=lambda k: (loads[k], k))
        assigned[g] = k
        loads[k] += sizes[g]
    return assigned


def save_split(split: dict[str, list[str]], path: str | Path, meta: dict | None = None) -> Path:
    """Write a split as JSON atomically (temporary file, then rename)."""
    path = Path(path)
    write_json(path, {**(meta or {}), **{k: list(split.get(k, [])) for k in SPLIT_NAMES}})
    return path


def load_split(path: str | Path, known_ids: set[str] | None = None) -> dict[str, list[str]]:
    """Read a split written by :func:`save_split`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a split file, overlapping splits, or ids the dataset does not have.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file {path} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or "train" not in data:
        raise ValueError(f"{path}: expected a JSON object with lists 'train', 'val', 'test'")
    split = {k: [str(i) for i in data.get(k, [])] for k in SPLIT_NAMES}
    seen: dict[str, str] = {}
    for k, values in split.items():
        for i in values:
            if i in seen:
                raise ValueError(f"{path}: id {i!r} is in both {seen[i]!r} and {k!r}")
            seen[i] = k
    if known_ids is not None:
        unknown = sorted(set(seen) - known_ids)
        if unknown:
            raise ValueError(f"{path}: {len(unknown)} id(s) not in the dataset, e.g. {unknown[:5]}")
    return split
