"""Finding image/mask pairs in the layouts the datasets' authors distribute.

Each ``find_*`` function returns a :class:`Catalog`: the pairs of every official split present,
plus per-case labels where the dataset has them. Missing files, duplicates and empty or wrong
roots are collected into one :class:`~skinseg.data.errors.DataValidationError`.

:data:`LAYOUTS` registers every layout by the name configs and commands use (``data=ph2``,
``skinseg evaluate --data ph2``), with the options that belong to it. A new layout is one
finder registered here plus one short ``conf/data/<name>.yaml``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from skinseg.data import synthetic
from skinseg.data.errors import DataValidationError, ProblemReport
from skinseg.data.io import IMAGE_EXTENSIONS


@dataclass(frozen=True)
class Sample:
    """One image and its lesion mask on disk."""

    id: str
    image: Path
    mask: Path


@dataclass(frozen=True)
class GeneratedSample:
    """One image of the synthetic series: made from ``(seed, index)``, not read from disk."""

    id: str
    index: int
    seed: int

    def generate(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The image (uint8 (H, W, 3)) and its {0, 1} mask at ``size = (H, W)``."""
        return synthetic.generate_sample(self.index, self.seed, size)


@dataclass
class Catalog:
    """The samples of a dataset, by official split (``train``, ``val``, ``test``).

    Attributes:
        labels: per-case classes that splits are stratified by (``data.stratify``).
        diagnoses: per-case clinical diagnosis, for evaluation rows and the review page's
            filter (PH2's, ISIC 2017's Part 3 classes, HAM10000's ``dx``).
        groups: groupings the dataset ships, by name (HAM10000's ``lesion_id``), that
            ``data.groups=<name>`` keeps on one side of every fold.
    """

    name: str
    splits: dict[str, list[Sample | GeneratedSample]]
    labels: dict[str, str] = field(default_factory=dict)
    diagnoses: dict[str, str] = field(default_factory=dict)
    groups: dict[str, dict[str, str]] = field(default_factory=dict)

    def all_samples(self) -> list[Sample | GeneratedSample]:
        return [s for split in self.splits.values() for s in split]


def _check_root(root: Path, dataset: str, expected: str) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"{dataset}: root {root} does not exist; expected {expected}")
    if not root.is_dir():
        raise DataValidationError(f"{dataset}: root {root} is not a folder; expected {expected}")
    return root


def _images_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


# --------------------------------------------------------------------------------------- PH2
PH2_LAYOUT = (
    "<root>/PH2 Dataset images/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp and "
    "IMDxxx_lesion/IMDxxx_lesion.bmp, with <root> the PH2Dataset folder"
)
PH2_DIAGNOSES = ("Common Nevus", "Atypical Nevus", "Melanoma")


def read_ph2_diagnoses(xlsx: Path) -> dict[str, str]:
    """Clinical diagnosis per case from ``PH2_dataset.xlsx`` (an 'X' in one of three columns).

    Raises:
        DataValidationError: the sheet has no 'Image Name' header with the diagnosis columns.
    """
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(xlsx, read_only=True, data_only=True)
    except Exception as exc:
        raise DataValidationError(f"{xlsx}: cannot read the PH2 spreadsheet ({exc})") from exc
    try:
        rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()
    for i, row in enumerate(rows):
        cells = [str(c).strip() if c is not None else "" for c in row]
        if "Image Name" in cells and all(d in cells for d in PH2_DIAGNOSES):
            name_col = cells.index("Image Name")
            cols = {d: cells.index(d) for d in PH2_DIAGNOSES}
            labels = {}
            for data in rows[i + 1 :]:
                name = data[name_col] if name_col < len(data) else None
                if not name:
                    continue
                marked = [
                    d
                    for d, c in cols.items()
                    if c < len(data) and str(data[c] or "").strip().upper() == "X"
                ]
                if len(marked) == 1:
                    labels[str(name).strip()] = marked[0].lower().replace(" ", "_")
            return labels
    raise DataValidationError(
        f"{xlsx}: no header row with 'Image Name' and {list(PH2_DIAGNOSES)} found"
    )


def find_ph2(root: str | Path) -> Catalog:
    """PH2 as distributed: one folder per case under ``PH2 Dataset images``."""
    root = _check_root(Path(root), "ph2", PH2_LAYOUT)
    images_dir = root / "PH2 Dataset images"
    if not images_dir.is_dir():
        raise DataValidationError(
            f"ph2: {root} has no 'PH2 Dataset images' folder; expected {PH2_LAYOUT}"
        )
    report = ProblemReport(f"ph2 at {root}")
    samples = []
    for case in sorted(p for p in images_dir.iterdir() if p.is_dir()):
        cid = case.name
        image = case / f"{cid}_Dermoscopic_Image" / f"{cid}.bmp"
        mask = case / f"{cid}_lesion" / f"{cid}_lesion.bmp"
        if not image.is_file():
            report.add("missing image", f"{cid}: expected {image}")
        if not mask.is_file():
            report.add("missing mask", f"{cid}: expected {mask}")
        if image.is_file() and mask.is_file():
            samples.append(Sample(cid, image, mask))
    if not samples and not report:
        raise DataValidationError(f"ph2: no cases under {images_dir}; expected {PH2_LAYOUT}")
    report.raise_if_any()
    labels = {}
    xlsx = root / "PH2_dataset.xlsx"
    if xlsx.is_file():
        labels = {k: v for k, v in read_ph2_diagnoses(xlsx).items() if k in {s.id for s in samples}}
    return Catalog("ph2", {"train": samples}, labels, diagnoses=labels)


# -------------------------------------------------------------------------------------- ISIC
# (image folder, mask folder, mask suffix) per official split, as in the challenge archives.
ISIC_LAYOUTS: dict[str, dict[str, tuple[str, str, str]]] = {
    "isic2016": {
        "train": (
            "ISBI2016_ISIC_Part1_Training_Data",
            "ISBI2016_ISIC_Part1_Training_GroundTruth",
            "_Segmentation",
        ),
        "test": (
            "ISBI2016_ISIC_Part1_Test_Data",
            "ISBI2016_ISIC_Part1_Test_GroundTruth",
            "_Segmentation",
        ),
    },
    "isic2017": {
        "train": (
            "ISIC-2017_Training_Data",
            "ISIC-2017_Training_Part1_GroundTruth",
            "_segmentation",
        ),
        "val": (
            "ISIC-2017_Validation_Data",
            "ISIC-2017_Validation_Part1_GroundTruth",
            "_segmentation",
        ),
        "test": ("ISIC-2017_Test_v2_Data", "ISIC-2017_Test_v2_Part1_GroundTruth", "_segmentation"),
    },
    "isic2018": {
        "train": (
            "ISIC2018_Task1-2_Training_Input",
            "ISIC2018_Task1_Training_GroundTruth",
            "_segmentation",
        ),
        "val": (
            "ISIC2018_Task1-2_Validation_Input",
            "ISIC2018_Task1_Validation_GroundTruth",
            "_segmentation",
        ),
        "test": ("ISIC2018_Task1-2_Test_Input", "ISIC2018_Task1_Test_GroundTruth", "_segmentation"),
    },
}
ISIC_ID = re.compile(r"^ISIC_\d+$")
# The classification ground truth beside the segmentation data (ISIC 2017 Part 3), per split.
ISIC_DIAGNOSIS_FILES: dict[str, dict[str, str]] = {
    "isic2017": {
        "train": "ISIC-2017_Training_Part3_GroundTruth.csv",
        "val": "ISIC-2017_Validation_Part3_GroundTruth.csv",
        "test": "ISIC-2017_Test_v2_Part3_GroundTruth.csv",
    },
}


def read_isic2017_diagnoses(path: Path) -> dict[str, str]:
    """``melanoma``, ``seborrheic_keratosis`` or ``nevus`` per image from a Part 3 CSV
    (``image_id, melanoma, seborrheic_keratosis``; ``not_melanoma`` where the file has only the
    melanoma column).

    Raises:
        DataValidationError: unreadable, no ``image_id`` and ``melanoma`` columns, or a value
            that is not a number.
    """
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = set(reader.fieldnames or [])
            if not {"image_id", "melanoma"} <= columns:
                raise DataValidationError(
                    f"{path}: expected columns image_id, melanoma[, seborrheic_keratosis]"
                )
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataValidationError(f"{path}: cannot read the Part 3 labels ({exc})") from exc
    other = "nevus" if "seborrheic_keratosis" in columns else "not_melanoma"
    labels = {}
    for line, row in enumerate(rows, start=2):
        try:
            melanoma = float(row["melanoma"]) >= 0.5
            keratosis = float(row.get("seborrheic_keratosis") or 0) >= 0.5
        except ValueError as exc:
            raise DataValidationError(f"{path}, line {line}: not a number ({exc})") from exc
        labels[row["image_id"].strip()] = (
            "melanoma" if melanoma else "seborrheic_keratosis" if keratosis else other
        )
    return labels


def _pair_folder(
    images_dir: Path,
    masks_dir: Path,
    suffix: str,
    report: ProblemReport,
    split: str,
    id_pattern: re.Pattern | None = None,
) -> list[Sample]:
    """Match images to ``<stem><suffix>.<ext>`` masks; superpixel and other extra files ignored."""
    masks: dict[str, list[Path]] = {}
    if masks_dir.is_dir():
        for m in _images_in(masks_dir):
            if m.stem.endswith(suffix):
                masks.setdefault(m.stem[: len(m.stem) - len(suffix)], []).append(m)
    else:
        report.add("missing mask folder", f"{split}: expected {masks_dir}")
        return []
    samples, seen = [], {}
    for image in _images_in(images_dir):
        stem = image.stem
        if id_pattern is not None and not id_pattern.match(stem):
            continue  # e.g. ISIC_0000000_superpixels.png beside the images
        if stem in seen:
            report.add("duplicate id", f"{stem}: {seen[stem]} and {image}")
            continue
        seen[stem] = image
        candidates = masks.get(stem, [])
        if not candidates:
            report.add("missing mask", f"{image}: expected {masks_dir / (stem + suffix)}.png")
        elif len(candidates) > 1:
            report.add("duplicate id", f"{stem}: several masks {[str(c) for c in candidates]}")
        else:
            samples.append(Sample(stem, image, candidates[0]))
    for stem, paths in masks.items():
        if stem not in seen:
            report.add("missing image", f"{paths[0]}: no image {stem}.* in {images_dir}")
    return samples


def find_isic(root: str | Path, edition: str) -> Catalog:
    """An ISIC challenge's Part 1 / Task 1 data: whichever official splits are present."""
    if edition not in ISIC_LAYOUTS:
        raise ValueError(f"unknown ISIC edition {edition!r}; expected one of {list(ISIC_LAYOUTS)}")
    layout = ISIC_LAYOUTS[edition]
    expected = "folders " + ", ".join(f"{i}/ with {m}/" for i, m, _ in layout.values())
    root = _check_root(Path(root), edition, expected)
    report = ProblemReport(f"{edition} at {root}")
    splits = {}
    for split, (images, masks, suffix) in layout.items():
        if (root / images).is_dir():
            splits[split] = _pair_folder(
                root / images, root / masks, suffix, report, split, ISIC_ID
            )
    if not splits:
        raise DataValidationError(
            f"{edition}: none of the official folders in {root}; expected {expected}"
        )
    ids: dict[str, str] = {}
    for split, samples in splits.items():
        for s in samples:
            if s.id in ids:
                report.add("duplicate id", f"{s.id}: in both {ids[s.id]} and {split}")
            ids[s.id] = split
    if "train" not in splits:
        report.add("missing split", f"training folder {root / layout['train'][0]} is required")
    elif not splits["train"] and not report:
        report.add("empty split", f"no images in {root / layout['train'][0]}")
    report.raise_if_any()
    diagnoses: dict[str, str] = {}
    for split, name in ISIC_DIAGNOSIS_FILES.get(edition, {}).items():
        if split in splits and (root / name).is_file():
            present = {s.id for s in splits[split]}
            found = read_isic2017_diagnoses(root / name)
            diagnoses.update({k: v for k, v in found.items() if k in present})
    return Catalog(edition, splits, diagnoses=diagnoses)


# --------------------------------------------------------------------------------- HAM10000
HAM_IMAGES = ("HAM10000_images", "HAM10000_images_part_1", "HAM10000_images_part_2")
HAM_MASKS = "HAM10000_segmentations_lesion_tschandl"
HAM_METADATA = ("HAM10000_metadata.csv", "HAM10000_metadata")
HAM_LAYOUT = (
    f"<root>/{HAM_IMAGES[0]}/ISIC_xxxxxxx.jpg (or {HAM_IMAGES[1]}/ and {HAM_IMAGES[2]}/), "
    f"<root>/{HAM_MASKS}/ISIC_xxxxxxx_segmentation.png and <root>/{HAM_METADATA[0]}"
)


def read_ham_metadata(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """``(dx, lesion_id)`` per image id from HAM10000's metadata CSV.

    Raises:
        DataValidationError: unreadable, or no ``image_id``, ``dx`` and ``lesion_id`` columns.
    """
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not {"image_id", "dx", "lesion_id"} <= set(reader.fieldnames or []):
                raise DataValidationError(
                    f"{path}: expected HAM10000's metadata columns lesion_id, image_id, dx, ..."
                )
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataValidationError(f"{path}: cannot read the HAM10000 metadata ({exc})") from exc
    dx = {r["image_id"].strip(): r["dx"].strip() for r in rows}
    lesions = {r["image_id"].strip(): r["lesion_id"].strip() for r in rows}
    return dx, lesions


def find_ham10000(root: str | Path) -> Catalog:
    """HAM10000 with the lesion masks of Tschandl et al. (2020): the image folder merged or in
    its two official parts; ``dx`` as the diagnosis and ``lesion_id`` as a grouping
    (``data.groups=lesion_id``) when the metadata CSV is there."""
    root = _check_root(Path(root), "ham10000", HAM_LAYOUT)
    folders = [root / name for name in HAM_IMAGES if (root / name).is_dir()]
    if not folders:
        raise DataValidationError(
            f"ham10000: {root} has none of the image folders {list(HAM_IMAGES)}; "
            f"expected {HAM_LAYOUT}"
        )
    report = ProblemReport(f"ham10000 at {root}")
    samples: list[Sample] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        for sample in _pair_folder(
            folder, root / HAM_MASKS, "_segmentation", report, "train", ISIC_ID
        ):
            if sample.id in seen:
                report.add("duplicate id", f"{sample.id}: {seen[sample.id]} and {sample.image}")
                continue
            seen[sample.id] = sample.image
            samples.append(sample)
    if len(folders) > 1:  # each part reports the other part's masks as missing images
        report.problems.pop("missing image", None)
        for mask_id in _mask_ids(root / HAM_MASKS, "_segmentation"):
            if mask_id not in seen:
                report.add("missing image", f"{mask_id}: no image in {[f.name for f in folders]}")
    if not samples and not report:
        raise DataValidationError(f"ham10000: no images under {root}; expected {HAM_LAYOUT}")
    report.raise_if_any()
    samples.sort(key=lambda s: s.id)
    diagnoses, groups = {}, {}
    metadata = next((root / n for n in HAM_METADATA if (root / n).is_file()), None)
    if metadata is not None:
        dx, lesions = read_ham_metadata(metadata)
        ids = {s.id for s in samples}
        diagnoses = {k: v for k, v in dx.items() if k in ids}
        groups = {"lesion_id": {k: v for k, v in lesions.items() if k in ids}}
    return Catalog("ham10000", {"train": samples}, diagnoses=diagnoses, groups=groups)


def _mask_ids(folder: Path, suffix: str) -> list[str]:
    if not folder.is_dir():
        return []
    return [m.stem[: -len(suffix)] for m in _images_in(folder) if m.stem.endswith(suffix)]


# ------------------------------------------------------------------------------------ folder
def find_folder(
    root: str | Path, mask_suffix: str = "", images: str = "images", masks: str = "masks"
) -> Catalog:
    """A plain folder: ``images/<stem>.<ext>`` with ``masks/<stem><mask_suffix>.<ext>``."""
    expected = f"{images}/ and {masks}/ with matching stems (mask suffix {mask_suffix!r})"
    root = _check_root(Path(root), "folder", expected)
    if not (root / images).is_dir():
        raise DataValidationError(f"folder: {root} has no {images}/ folder; expected {expected}")
    report = ProblemReport(f"folder at {root}")
    samples = _pair_folder(root / images, root / masks, mask_suffix, report, "train")
    if not samples and not report:
        raise DataValidationError(f"folder: no images in {root / images}; expected {expected}")
    report.raise_if_any()
    return Catalog("folder", {"train": samples})


# --------------------------------------------------------------------------------- synthetic
def find_synthetic(seed: int, num_synthetic: int = 200) -> Catalog:
    """The built-in procedural lesions: ``num_synthetic`` images of the series ``seed``."""
    if not isinstance(num_synthetic, int) or num_synthetic < 1:
        raise ValueError(f"num_synthetic must be a positive integer, got {num_synthetic!r}")
    samples = [GeneratedSample(f"synthetic_{i:05d}", i, seed) for i in range(num_synthetic)]
    return Catalog("synthetic", {"train": samples})


# ---------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Layout:
    """A dataset layout: how to find its samples, and the options that belong to it.

    Attributes:
        name: what configs and commands call it.
        finder: ``finder(root, **options)``; for a layout without a root (generated data),
            ``finder(seed=..., **options)`` with the run's seed.
        expected: what the folder must look like, for messages.
        options: the layout's own options with their defaults (e.g. ``mask_suffix``).
        needs_root: False for generated data.
        how_to_get: where to get the data, said when the root does not exist.
    """

    name: str
    finder: Callable[..., Catalog]
    expected: str
    options: Mapping[str, object] = field(default_factory=dict)
    needs_root: bool = True
    how_to_get: str = ""

    def check_options(self, options: Mapping[str, object]) -> dict:
        """The layout's options with its defaults filled in.

        Raises:
            ValueError: an option this layout does not have, naming the ones it has.
        """
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = sorted(self.options) or "none"
            raise ValueError(
                f"data option(s) {unknown} do not belong to layout {self.name!r}; "
                f"its options: {known}"
            )
        return {**self.options, **options}

    def catalog(self, root: str | Path | None, seed: int = 0, **options) -> Catalog:
        """Find the samples under ``root`` (or generate them from ``seed``).

        Raises:
            FileNotFoundError: the root does not exist (with where to get the data).
            DataValidationError: the folder does not hold the layout (every problem listed).
        """
        options = self.check_options(options)
        if not self.needs_root:
            return self.finder(seed=seed, **options)
        if not root:
            raise ValueError(f"{self.name}: a data root is required; expected {self.expected}")
        root = Path(root).expanduser()
        if not root.exists() and self.how_to_get:
            raise FileNotFoundError(f"{self.name}: root {root} does not exist. {self.how_to_get}")
        return self.finder(root, **options)


PH2_HELP = (
    "PH2 is distributed by its authors on request (https://www.fc.up.pt/addi/ph2%20database.html). "
    "Unpack it so that <root>/PH2 Dataset images/IMD002/... exists and pass data.root=<root>, "
    "or try the built-in demo data with data=synthetic."
)


def _isic(edition: str) -> Layout:
    folders = ", ".join(f"{i}/ with {m}/" for i, m, _ in ISIC_LAYOUTS[edition].values())
    return Layout(edition, lambda root: find_isic(root, edition), f"folders {folders}")


LAYOUTS: Mapping[str, Layout] = MappingProxyType(
    {
        "ph2": Layout("ph2", find_ph2, PH2_LAYOUT, how_to_get=PH2_HELP),
        **{edition: _isic(edition) for edition in ISIC_LAYOUTS},
        "ham10000": Layout("ham10000", find_ham10000, HAM_LAYOUT),
        "folder": Layout(
            "folder",
            find_folder,
            "images/<stem>.<ext> and masks/<stem><mask_suffix>.<ext>",
            options={"mask_suffix": "_mask", "images": "images", "masks": "masks"},
        ),
        "synthetic": Layout(
            "synthetic",
            find_synthetic,
            "no files: procedural lesions",
            options={"num_synthetic": 200},
            needs_root=False,
        ),
    }
)


def get_layout(name: str) -> Layout:
    """The registered layout ``name``.

    Raises:
        ValueError: no such layout, naming the registered ones.
    """
    if name not in LAYOUTS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {list(LAYOUTS)}")
    return LAYOUTS[name]
