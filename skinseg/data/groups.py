"""Groups of images that must stay on one side of a split (one patient, lesion or collection).

A random split puts photographs of one lesion, or of one clinic's camera, on both sides, and
the cross-validation then measures images like the training ones, not new ones. ``data.groups``
names where each image's group comes from; :func:`skinseg.data.splits.kfold_split` then deals
whole groups to folds, so every fold's test images come from groups the run never trained on.

- ``isic_id_block``: the ISIC Archive's id block (``ISIC_0012345`` -> ``12``). Ids were issued
  in blocks as collections joined the archive, so a block stands in for a collection (clinic,
  camera, annotators) where the metadata names none.
- a grouping the dataset's metadata ships: ``lesion_id`` for HAM10000 (several photographs
  of one lesion share it).
- a CSV file with an ``id`` and a ``group`` column (a patient or lesion id per image), for
  one's own data. Every image of the dataset must have a row.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from skinseg.data.errors import DataValidationError


def isic_id_block(image_id: str) -> str:
    """The id block of an ISIC image: ``ISIC_0012345`` -> ``12`` (digits 3-4 of 7); ids of
    another form are one group, ``other``."""
    digits = image_id.removeprefix("ISIC_")
    return digits[2:4] if len(digits) == 7 and digits.isdigit() else "other"


#: Groups computed from the image id alone, by name.
GROUP_RULES: dict[str, Callable[[str], str]] = {"isic_id_block": isic_id_block}


def read_group_file(path: Path) -> dict[str, str]:
    """``id -> group`` from a CSV with ``id`` and ``group`` columns.

    Raises:
        DataValidationError: the file is missing or unreadable, lacks the columns, has an
            empty cell, or gives one id two groups.
    """
    if not path.is_file():
        raise DataValidationError(f"data.groups: {path} is not a file (expected a CSV of id,group)")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataValidationError(f"data.groups: cannot read {path}: {exc}") from exc
    if not rows or not {"id", "group"} <= set(rows[0]):
        raise DataValidationError(
            f"data.groups: {path} needs a header with 'id' and 'group' columns"
        )
    groups: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        sid, group = (row.get("id") or "").strip(), (row.get("group") or "").strip()
        if not sid or not group:
            raise DataValidationError(f"data.groups: {path} line {line}: empty id or group")
        if groups.setdefault(sid, group) != group:
            raise DataValidationError(
                f"data.groups: {path} line {line}: {sid} is in group {groups[sid]!r} and {group!r}"
            )
    return groups


def resolve_groups(
    spec: str, ids: list[str], shipped: dict[str, dict[str, str]] | None = None
) -> dict[str, str]:
    """``id -> group`` for ``ids`` from ``data.groups``: a grouping the dataset ships
    (``shipped``, e.g. HAM10000's ``lesion_id``), a rule's name or a CSV path.

    Raises:
        DataValidationError: an unknown rule and no such file, or ids the grouping or the
            file does not cover.
    """
    shipped = shipped or {}
    if spec in shipped:
        missing = sorted(set(ids) - set(shipped[spec]))
        if missing:
            raise DataValidationError(
                f"data.groups={spec}: the dataset's metadata has no {spec} for "
                f"{len(missing)} of {len(ids)} images, e.g. {missing[:3]}"
            )
        return {i: shipped[spec][i] for i in ids}
    if spec in GROUP_RULES:
        rule = GROUP_RULES[spec]
        return {i: rule(i) for i in ids}
    path = Path(spec).expanduser()
    if not path.suffix and not path.exists():
        raise DataValidationError(
            f"data.groups={spec!r}: not a rule ({', '.join(sorted({*GROUP_RULES, *shipped}))}) "
            "and not a file; give a rule's name or a CSV of id,group"
        )
    table = read_group_file(path)
    missing = sorted(set(ids) - set(table))
    if missing:
        raise DataValidationError(
            f"data.groups: {path} has no group for {len(missing)} of {len(ids)} images, "
            f"e.g. {missing[:3]}"
        )
    return {i: table[i] for i in ids}
