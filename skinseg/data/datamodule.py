"""One LightningDataModule for PH2, ISIC 2016/2017/2018, plain folders and synthetic lesions."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from skinseg.data import layouts
from skinseg.data.augment import build_augmentation
from skinseg.data.cache import load_pair
from skinseg.data.dataset import ArraySegmentationDataset
from skinseg.data.errors import DataValidationError, ProblemReport
from skinseg.data.groups import resolve_groups
from skinseg.data.io import ImageReadError, read_image, read_mask
from skinseg.data.layouts import LAYOUTS, GeneratedSample, get_layout
from skinseg.data.sampler import EpochSeededSampler
from skinseg.data.splits import (
    SPLIT_NAMES,
    kfold_split,
    load_split,
    random_split,
    save_split,
    subsample,
)
from skinseg.recipe import IMAGENET_MEAN, IMAGENET_STD

log = logging.getLogger(__name__)

DATASETS = tuple(LAYOUTS)


def default_num_workers() -> int:
    """Loader workers that suit the machine: decoding is cached, so few are needed."""
    cpus = os.cpu_count() or 1
    if torch.cuda.is_available():
        return min(8, cpus)
    return 0 if cpus <= 2 else min(4, cpus // 2)


class SkinLesionDataModule(L.LightningDataModule):
    """Train/val/test loaders for one dermoscopy dataset.

    Every image is decoded, checked and resized once in :meth:`setup` and kept in memory, so
    epochs never touch the disk; problems with the data are raised there, before training.

    Args:
        dataset: a registered layout (:data:`skinseg.data.layouts.LAYOUTS`): ``ph2``,
            ``isic2016``, ``isic2017``, ``isic2018``, ``folder``, ``synthetic``.
        root: the dataset's folder, in its authors' layout (unused for ``synthetic``).
        image_size: ``(H, W)`` the images are resized to for training.
        batch_size: images per batch.
        val_fraction, test_fraction: of the cases split off when the dataset has no official
            split of that name.
        seed: the split's seed.
        num_folds, fold: k-fold cross-validation; fold ``fold`` is the test set.
        stratify: stratify splits by the dataset's labels (PH2's clinical diagnosis).
        groups: keep each group's images on one side of every fold's test split
            (:mod:`skinseg.data.groups`): ``isic_id_block`` or a CSV of ``id,group``; k-fold
            splits only.
        split_file: load the split from this JSON instead of drawing one.
        split_output: write the split used to this JSON (the run directory's ``split.json``).
        train_cases: train on only this many of the training split's cases (seeded,
            stratified like the split; validation and test unchanged): how a model does with
            the few annotations a clinic has.
        augment: training augmentation (albumentations transforms or Compose), or None.
        cache_dir: optional on-disk cache of decoded, resized arrays.
        cache_budget_mb: most memory the decoded training arrays may take; beyond it they are
            memory-mapped from ``cache_dir`` (or setup refuses, naming the size needed).
        num_workers: loader workers; None picks a default for the machine.
        pin_memory: None pins on CUDA only.
        persistent_workers: keep workers between epochs (when there are any).
        mean, std: normalisation, recorded in checkpoints for prediction.
        **layout_options: options of the layout alone, e.g. ``mask_suffix`` for ``folder``
            (masks are ``masks/<stem><mask_suffix>.<ext>``) or ``num_synthetic`` for
            ``synthetic``; an option the layout does not have is refused.
    """

    def __init__(
        self,
        dataset: str = "synthetic",
        root: str | None = None,
        image_size: Sequence[int] = (192, 256),
        batch_size: int = 8,
        val_fraction: float = 0.25,
        test_fraction: float = 0.25,
        seed: int = 42,
        num_folds: int | None = None,
        fold: int = 0,
        stratify: bool = True,
        groups: str | None = None,
        split_file: str | None = None,
        split_output: str | None = None,
        train_cases: int | None = None,
        augment=None,
        cache_dir: str | None = None,
        cache_budget_mb: float | None = 8192,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        **layout_options,
    ) -> None:
        super().__init__()
        self.layout = get_layout(dataset)
        self.layout_options = self.layout.check_options(layout_options)
        if self.layout.needs_root and not root:
            raise ValueError(f"data.root is required for dataset {dataset!r}")
        if len(image_size) != 2 or min(int(v) for v in image_size) < 8:
            raise ValueError(f"image_size must be (H, W) with both >= 8, got {list(image_size)}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if train_cases is not None and (not isinstance(train_cases, int) or train_cases < 1):
            raise ValueError(f"train_cases must be a positive integer or null, got {train_cases!r}")
        if groups is not None and not num_folds:
            raise ValueError(
                f"data.groups={groups!r} applies to k-fold splits: set data.num_folds too"
            )
        self.save_hyperparameters(ignore=["augment"])
        self.dataset = dataset
        self.root = None if root is None else Path(root).expanduser()
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.batch_size = batch_size
        self.augment = build_augmentation(augment)
        if self.augment is not None and self.image_size[0] != self.image_size[1]:
            swapping = [
                t
                for t in self.augment.transforms
                if type(t).__name__ in ("RandomRotate90", "Transpose")
            ]
            if swapping:
                raise ValueError(
                    f"augmentation {type(swapping[0]).__name__} swaps height and width, which "
                    f"needs a square image_size; got {list(self.image_size)}"
                )
        self.mean, self.std = tuple(mean), tuple(std)
        self.num_workers = default_num_workers() if num_workers is None else int(num_workers)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.persistent_workers = persistent_workers and self.num_workers > 0
        self.split: dict[str, list[str]] | None = None
        self.datasets: dict[str, ArraySegmentationDataset] = {}
        self.labels: dict[str, str] = {}
        self.groupings: dict[str, dict[str, str]] = {}
        self.diagnoses: dict[str, str] = {}
        self._sources: dict[str, layouts.Sample | GeneratedSample] = {}

    def _draw_split(self, official: dict[str, list[str]]) -> dict[str, list[str]]:
        """Official splits where present; the rest carved from training by the seeded split."""
        hp = self.hparams
        pool = official.get("train", [])
        if hp.num_folds:
            groups = resolve_groups(str(hp.groups), pool, self.groupings) if hp.groups else None
            try:
                return kfold_split(
                    pool,
                    hp.num_folds,
                    hp.fold,
                    hp.val_fraction,
                    hp.seed,
                    self.labels if hp.stratify else None,
                    groups,
                )
            except ValueError as exc:
                if groups is None:
                    raise
                raise DataValidationError(
                    f"{self.dataset}: data.groups={hp.groups}: {exc}"
                ) from exc
        val_f = 0.0 if "val" in official else hp.val_fraction
        test_f = 0.0 if "test" in official else hp.test_fraction
        carved = random_split(pool, val_f, test_f, hp.seed, self.labels if hp.stratify else None)
        for name in ("val", "test"):
            if name in official:
                carved[name] = sorted(official[name])
        return carved

    # ------------------------------------------------------------------------------ loading
    def _storage(self, count: int):
        """Where decoded arrays live: plain memory within ``cache_budget_mb``, else memory-mapped
        files in ``cache_dir`` (the OS keeps what fits in RAM), else a clear refusal."""
        h, w = self.image_size
        need_mb = count * h * w * 4 / 2**20  # RGB + mask bytes
        budget = self.hparams.cache_budget_mb
        if budget is None or need_mb <= budget:
            return None
        if not self.hparams.cache_dir:
            raise ValueError(
                f"{self.dataset}: {count} images at {h}x{w} need {need_mb:.0f} MB of decoded "
                f"cache, over data.cache_budget_mb={budget}; set data.cache_dir to keep them in "
                "memory-mapped files, lower data.image_size, or raise the budget"
            )
        folder = Path(self.hparams.cache_dir) / "mmap"
        folder.mkdir(parents=True, exist_ok=True)
        tag = f"{self.dataset}_{count}_{h}x{w}_{os.getpid()}"
        images = np.lib.format.open_memmap(
            folder / f"{tag}_images.npy", "w+", np.uint8, (count, h, w, 3)
        )
        masks = np.lib.format.open_memmap(
            folder / f"{tag}_masks.npy", "w+", np.uint8, (count, h, w)
        )
        log.info(
            "%s: %.0f MB of decoded images over the %s MB budget: memory-mapped in %s",
            self.dataset,
            need_mb,
            budget,
            folder,
        )
        return images, masks

    def _load_files(self, catalog: layouts.Catalog, wanted: set[str]):
        report = ProblemReport(f"{catalog.name} at {self.root}")
        arrays, conversions = {}, {}
        storage = self._storage(len(wanted))
        for sample in catalog.all_samples():
            if sample.id not in wanted:
                continue
            try:
                image, mask, notes = load_pair(sample, self.image_size, self.hparams.cache_dir)
            except ImageReadError as exc:
                kind = "mask not binary" if "not binary" in str(exc) else "unreadable file"
                report.add(kind, str(exc))
                continue
            except ValueError as exc:
                report.add("image and mask sizes differ", str(exc))
                continue
            if storage is not None:  # copy into the memory map, keep views
                slot = len(arrays)
                storage[0][slot], storage[1][slot] = image, mask
                image, mask = storage[0][slot], storage[1][slot]
            arrays[sample.id] = (image, mask)
            for note in notes:
                conversions.setdefault(note, []).append(sample.id)
        report.raise_if_any()
        for note, ids in conversions.items():
            log.warning("%s: %s in %d file(s), e.g. %s", catalog.name, note, len(ids), ids[:3])
        return arrays

    def setup(self, stage: str | None = None) -> None:
        """Find, check, split and load the data (once; later calls are no-ops)."""
        if self.datasets:
            return
        hp = self.hparams
        catalog = self.layout.catalog(self.root, hp.seed, **self.layout_options)
        self.labels, self.groupings = catalog.labels, catalog.groups
        self.diagnoses = catalog.diagnoses
        self._sources = {s.id: s for s in catalog.all_samples()}
        official = {k: [s.id for s in v] for k, v in catalog.splits.items()}
        known = {i for v in official.values() for i in v}
        if hp.split_file:
            self.split = load_split(hp.split_file, known)
        else:
            self.split = self._draw_split(official)
        if hp.train_cases is not None:
            pool = self.split["train"]
            if hp.train_cases > len(pool):
                raise DataValidationError(
                    f"{self.dataset}: train_cases={hp.train_cases}, but the training split has "
                    f"{len(pool)} cases"
                )
            labels = self.labels if hp.stratify else None
            self.split["train"] = subsample(pool, hp.train_cases, hp.seed + 2, labels)
        if not self.split["train"]:
            raise DataValidationError(f"{self.dataset}: the training split is empty")
        wanted = {i for v in self.split.values() for i in v}
        arrays = self._load_files(catalog, wanted)
        for name in SPLIT_NAMES:
            ids = self.split[name]
            if not ids:
                continue
            self.datasets[name] = ArraySegmentationDataset(
                ids,
                [arrays[i][0] for i in ids],
                [arrays[i][1] for i in ids],
                transform=self.augment if name == "train" else None,
                mean=self.mean,
                std=self.std,
            )
        if hp.split_output:
            self.save_split(hp.split_output)
        log.info("%s: %s", self.dataset, {k: len(v) for k, v in self.split.items()})

    def originals(self, name: str) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``(id, image, mask)`` of a split at the files' own resolution (generated data at the
        training size), read one at a time: what `skinseg predict` would be given."""
        if self.split is None:
            raise RuntimeError("setup() must run before reading a split")
        for sid in self.split[name]:
            sample = self._sources[sid]
            if isinstance(sample, GeneratedSample):
                yield sid, *sample.generate(self.image_size)
            else:
                yield sid, read_image(sample.image)[0], read_mask(sample.mask)[0]

    def source(self, sid: str) -> layouts.Sample | GeneratedSample:
        """Where image ``sid`` comes from: its files, or its place in the generated series."""
        if sid not in self._sources:
            raise KeyError(f"{sid}: not an image of this DataModule (has setup() run?)")
        return self._sources[sid]

    def save_split(self, path: str | Path) -> Path:
        """Write the split in use as JSON."""
        if self.split is None:
            raise RuntimeError("setup() must run before the split can be saved")
        hp = self.hparams
        meta = {
            "dataset": self.dataset,
            "root": str(self.root) if self.root else None,
            "options": self.layout_options,
            "seed": hp.seed,
            "num_folds": hp.num_folds,
            "fold": hp.fold,
            "groups": hp.groups,
        }
        return save_split(self.split, path, meta)

    # ------------------------------------------------------------------------------ loaders
    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        if name not in self.datasets:
            raise RuntimeError(f"no {name} split: it is empty or setup() has not run")
        dataset = self.datasets[name]
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochSeededSampler(len(dataset), self.hparams.seed, shuffle=shuffle),
            drop_last=shuffle and len(dataset) > self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def recipe(self) -> dict:
        """What prediction needs to preprocess new images as in training."""
        return {"image_size": list(self.image_size), "mean": list(self.mean), "std": list(self.std)}
