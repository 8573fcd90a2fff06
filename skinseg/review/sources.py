"""What a review shows: the rows of per-image tables, with their pictures' files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from skinseg.evaluation import read_per_image, source_path

# The tables a review reads: `skinseg evaluate`'s, and a training run's full-resolution test,
# each with the summary beside it that names the model and the data.
SUMMARY_NAMES = {"per_image.csv": "summary.json", "test_per_image.csv": "test_summary.json"}
TABLE_NAMES = tuple(SUMMARY_NAMES)
RUN_SETTING = "calibration.full_resolution_test=true"


@dataclass(frozen=True)
class Entry:
    """One image of the review: its scores, files and the run it belongs to (``""`` for a
    single evaluation; the run's folder for a cross-validation or a sweep)."""

    run: str
    id: str
    scores: dict[str, float]
    image: Path | None
    truth: Path
    prediction: Path
    diagnosis: str = ""

    @property
    def key(self) -> str:
        """Unique within a review: the run and the image id."""
        return f"{self.run}/{self.id}" if self.run else self.id


def find_tables(folder: str | Path) -> list[tuple[str, Path]]:
    """``(run, table)`` for an evaluation folder: its own table, or else those of the runs below
    it (``fold0/``, ... of a cross-validation; the jobs of a sweep), named by their folder.

    Raises:
        FileNotFoundError: no such folder, or no per-image table in or below it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"evaluation folder {folder} not found")
    for name in TABLE_NAMES:
        if (folder / name).is_file():
            return [("", folder / name)]
    tables = sorted(p for name in TABLE_NAMES for p in folder.rglob(name))
    if not tables and ((folder / "metrics.json").is_file() or any(folder.rglob("metrics.json"))):
        raise FileNotFoundError(
            f"{folder} holds training run(s) without a per-image test table: train with "
            f"{RUN_SETTING} (the run then scores its test images at full resolution and keeps "
            "their masks), or score its checkpoint with `skinseg evaluate --checkpoint "
            "RUN/checkpoints/best.ckpt ... --review`"
        )
    if not tables:
        raise FileNotFoundError(
            f"no {' or '.join(TABLE_NAMES)} in or below {folder}; expected the output of "
            "`skinseg evaluate`, a training run or a cross-validation"
        )
    return [(p.parent.relative_to(folder).as_posix(), p) for p in tables]


def read_entries(tables: list[tuple[str, Path]]) -> list[Entry]:
    """Every row of the tables, with its files checked.

    Raises:
        ValueError: a table without the picture columns (written before reviews existed), or
            rows whose files are missing (all of them listed, before anything is written).
    """
    entries, missing = [], []
    for run, table in tables:
        for row in read_per_image(table):
            if not row.get("truth") or not row.get("prediction"):
                raise ValueError(
                    f"{table}: no truth and prediction paths in its rows; tables written by "
                    "an older skinseg lack them: run `skinseg evaluate` (or the training run) "
                    "again"
                )
            entry = Entry(
                run=run,
                id=row["id"],
                scores={k: v for k, v in row.items() if isinstance(v, float)},
                image=source_path(row.get("image", ""), table),
                truth=source_path(row["truth"], table),
                prediction=source_path(row["prediction"], table),
                diagnosis=row.get("diagnosis", "") or "",
            )
            for path in (entry.image, entry.truth, entry.prediction):
                if path is not None and not path.is_file():
                    missing.append(f"{entry.key}: {path}")
            entries.append(entry)
    if missing:
        shown = "\n  ".join(missing[:10]) + (
            f"\n  ... {len(missing) - 10} more" * (len(missing) > 10)
        )
        raise ValueError(f"{len(missing)} file(s) named by the tables are missing:\n  {shown}")
    return entries


def read_context(tables: list[tuple[str, Path]]) -> list[dict]:
    """What the summary beside each table says of the model and the data (``run``,
    ``model``, ``data``; empty where a table has no summary, as for older evaluations)."""
    out = []
    for run, table in tables:
        summary = table.with_name(SUMMARY_NAMES.get(table.name, "summary.json"))
        try:
            found = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            found = {}
        out.append({"run": run, "model": found.get("model"), "data": found.get("data")})
    return out


def pair_entries(first: list[Entry], second: list[Entry]) -> list[tuple[Entry, Entry]]:
    """The images two evaluations share, matched by key, in the first one's order.

    Raises:
        ValueError: no image in common, or a shared image whose truth masks differ in name
            (not the same annotation, so the scores would not compare).
    """
    by_key = {e.key: e for e in second}
    pairs = [(e, by_key[e.key]) for e in first if e.key in by_key]
    if not pairs:
        raise ValueError(
            f"the two evaluations share no image (e.g. {first[0].key!r} and {second[0].key!r}); "
            "a comparison needs evaluations of the same images"
        )
    differ = [a.key for a, b in pairs if a.truth.name != b.truth.name]
    if differ:
        raise ValueError(
            f"{len(differ)} shared image(s) have differently named truth masks, e.g. "
            f"{differ[0]}: a comparison needs the same annotations"
        )
    return pairs
