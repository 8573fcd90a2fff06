"""Several datasets at once: each in its own layout and split, trained on together.

    python train.py data=multi data.sources.isic2017.root=ISIC data.sources.ph2.root=PH2 \\
        data.weights.ph2=1 data.weights.isic2017=1

Each source is a :class:`SkinLesionDataModule` of its own (its layout, its split settings,
folds included), all at one image size and normalisation. Training draws each epoch's images
from the sources in proportion to ``weights`` (by default to their sizes, which is plain
concatenation); validation reports every metric over all sources (``val/*``, what checkpoints
are chosen on) and per source (``val_<name>/*``). Image ids are ``<source>/<id>``; the run's
``split.json`` keeps each source's split under ``sources``.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from skinseg.atomic import write_json
from skinseg.data.datamodule import SkinLesionDataModule, default_num_workers
from skinseg.data.sampler import EpochSeededSampler, item_seed
from skinseg.data.splits import SPLIT_NAMES
from skinseg.recipe import IMAGENET_MEAN, IMAGENET_STD

log = logging.getLogger(__name__)
SEPARATOR = "/"
# Set once for all sources by the MultiSourceDataModule itself.
_SHARED = ("image_size", "batch_size", "mean", "std", "split_output", "num_workers")


class SourcesDataset(Dataset):
    """The items of several datasets in a row, each item tagged with its source's index
    (``"source"``) and its id prefixed with the source's name."""

    def __init__(self, parts: Mapping[str, Dataset], names: Sequence[str] | None = None) -> None:
        self.names = list(parts)
        self.parts = [parts[n] for n in self.names]
        # "source": the index in ``names`` (every source of the DataModule, even those with
        # nothing in this split), so that one index means one source in every split.
        every = list(names) if names is not None else self.names
        self.source_index = [every.index(n) for n in self.names]
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts]).tolist()
        self.ids = [
            f"{n}{SEPARATOR}{i}" for n, p in zip(self.names, self.parts, strict=True) for i in p.ids
        ]
        self.images = [im for p in self.parts for im in p.images]
        self.masks = [m for p in self.parts for m in p.masks]

    def __len__(self) -> int:
        return self.offsets[-1]

    def locate(self, index: int) -> tuple[int, int]:
        """``(source index, index within that source)`` of a global index."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        part = bisect.bisect_right(self.offsets, index) - 1
        return part, index - self.offsets[part]

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        seed = None
        if isinstance(index, tuple):
            index, seed = index
        part, local = self.locate(index)
        item = self.parts[part][local if seed is None else (local, seed)]
        return {**item, "id": self.ids[index], "source": self.source_index[part]}


class WeightedSourceSampler(Sampler[tuple[int, int]]):
    """Each epoch, ``num_samples`` draws ``(global index, item seed)`` split between the
    sources in proportion to ``weights`` (largest remainder), each source's share walking
    through its own shuffled images (again from the start when the share exceeds its size), the
    whole epoch then shuffled. A pure function of (seed, epoch), like
    :class:`~skinseg.data.sampler.EpochSeededSampler`."""

    def __init__(
        self, sizes: Sequence[int], weights: Sequence[float], seed: int, num_samples: int
    ) -> None:
        if len(sizes) != len(weights) or any(w < 0 for w in weights) or not sum(weights) > 0:
            raise ValueError(f"weights must be >= 0 with a positive sum, one per source: {weights}")
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.sizes, self.seed, self.num_samples = list(sizes), seed, num_samples
        exact = [num_samples * w / sum(weights) for w in weights]
        counts = [int(e) for e in exact]
        for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[
            : num_samples - sum(counts)
        ]:
            counts[i] += 1
        self.counts = counts
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[tuple[int, int]]:
        g = torch.Generator().manual_seed(item_seed(self.seed, self.epoch, -1))
        draws, offset = [], 0
        for size, count in zip(self.sizes, self.counts, strict=True):
            rounds = -(-count // size) if size else 0
            order = torch.cat([torch.randperm(size, generator=g) for _ in range(rounds)])
            draws += (order[:count] + offset).tolist() if count else []
            offset += size
        for k in torch.randperm(len(draws), generator=g).tolist():
            yield draws[k], item_seed(self.seed, self.epoch, k)


class MultiSourceDataModule(L.LightningDataModule):
    """Train/val/test loaders over several dermoscopy datasets.

    Args:
        sources: ``{name: options}``; each ``options`` are a
            :class:`~skinseg.data.datamodule.SkinLesionDataModule`'s (``dataset``, ``root``,
            ``val_fraction``, ``test_fraction``, ``num_folds``, ``fold``, ``split_file``,
            layout options...) except the shared ones below. A source with a null
            ``dataset`` is left out (how a config drops one).
        weights: ``{name: weight}``, each source's share of a training epoch; missing names
            weigh 0; None: in proportion to the training images of each (concatenation).
        epoch_size: training images per epoch; None: all sources' training images.
        image_size, batch_size, seed, augment, mean, std, num_workers, pin_memory,
        persistent_workers, cache_dir, cache_budget_mb: as for ``SkinLesionDataModule``, for
            every source (``augment``, ``cache_*`` may also be set per source).
        split_output: write every source's split to this JSON.
    """

    def __init__(
        self,
        sources: Mapping[str, Mapping],
        weights: Mapping[str, float] | None = None,
        epoch_size: int | None = None,
        image_size: Sequence[int] = (192, 256),
        batch_size: int = 8,
        seed: int = 42,
        augment=None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        cache_dir: str | None = None,
        cache_budget_mb: float | None = 8192,
        split_output: str | None = None,
    ) -> None:
        super().__init__()
        sources = {n: dict(o) for n, o in (sources or {}).items() if (o or {}).get("dataset")}
        if not sources:
            raise ValueError("data.sources names no dataset: give at least one {name: {dataset}}")
        bad = [n for n in sources if not n or SEPARATOR in n]
        if bad:
            raise ValueError(f"source names must be non-empty without {SEPARATOR!r}: {bad}")
        if weights is not None:
            unknown = sorted(set(weights) - set(sources))
            if unknown:
                raise ValueError(f"data.weights names unknown sources {unknown}; sources: "
                                 f"{sorted(sources)}")  # fmt: skip
            if any(float(w) < 0 for w in weights.values()) or not sum(weights.values()) > 0:
                raise ValueError(f"data.weights must be >= 0 with a positive sum: {dict(weights)}")
        if epoch_size is not None and epoch_size < 1:
            raise ValueError(f"data.epoch_size must be >= 1, got {epoch_size}")
        self.save_hyperparameters(ignore=["augment"])
        self.dataset = "+".join(sources)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.batch_size, self.seed = batch_size, seed
        self.mean, self.std = tuple(mean), tuple(std)
        self.weights = None if weights is None else {n: float(w) for n, w in weights.items()}
        self.epoch_size = epoch_size
        self.num_workers = default_num_workers() if num_workers is None else int(num_workers)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.persistent_workers = persistent_workers and self.num_workers > 0
        self.split_output = split_output
        self.children: dict[str, SkinLesionDataModule] = {}
        for name, options in sources.items():
            shared = sorted(set(options) & set(_SHARED))
            if shared:
                raise ValueError(f"data.sources.{name}: {shared} are set for all sources at once")
            kwargs = {"augment": augment, "seed": seed, "cache_dir": cache_dir,
                      "cache_budget_mb": cache_budget_mb, **options}  # fmt: skip
            try:
                self.children[name] = SkinLesionDataModule(
                    image_size=self.image_size, batch_size=batch_size, mean=mean, std=std,
                    num_workers=0, **kwargs,
                )  # fmt: skip
            except (TypeError, ValueError) as exc:
                raise ValueError(f"data.sources.{name}: {exc}") from exc
        self.split: dict[str, list[str]] | None = None
        self.datasets: dict[str, SourcesDataset] = {}
        self.labels: dict[str, str] = {}
        self.diagnoses: dict[str, str] = {}

    @property
    def source_names(self) -> list[str]:
        return list(self.children)

    def setup(self, stage: str | None = None) -> None:
        """Set up every source (its checks, split and cache), then join them."""
        if self.datasets:
            return
        for name, child in self.children.items():
            try:
                child.setup(stage)
            except (ValueError, OSError) as exc:  # DataValidationError, a missing root...
                raise type(exc)(f"data.sources.{name}: {exc}") from exc
        self.split = {
            s: [f"{n}{SEPARATOR}{i}" for n, c in self.children.items() for i in c.split[s]]
            for s in SPLIT_NAMES
        }
        self.labels = {
            f"{n}{SEPARATOR}{i}": label
            for n, c in self.children.items()
            for i, label in c.labels.items()
        }
        self.diagnoses = {
            f"{n}{SEPARATOR}{i}": dx
            for n, c in self.children.items()
            for i, dx in c.diagnoses.items()
        }
        for s in SPLIT_NAMES:
            parts = {n: c.datasets[s] for n, c in self.children.items() if s in c.datasets}
            if parts:
                self.datasets[s] = SourcesDataset(parts, self.source_names)
        if self.split_output:
            self.save_split(self.split_output)
        log.info(
            "sources: %s",
            {n: {k: len(v) for k, v in c.split.items()} for n, c in self.children.items()},
        )

    def _child(self, sid: str) -> tuple[SkinLesionDataModule, str]:
        name, _, local = sid.partition(SEPARATOR)
        if name not in self.children or not local:
            raise KeyError(f"{sid}: not an image of this DataModule (ids are <source>/<id>)")
        return self.children[name], local

    def originals(self, name: str) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``(source/id, image, mask)`` of a split at the files' own resolution, source by
        source."""
        if self.split is None:
            raise RuntimeError("setup() must run before reading a split")
        for source, child in self.children.items():
            for sid, image, mask in child.originals(name):
                yield f"{source}{SEPARATOR}{sid}", image, mask

    def source(self, sid: str):
        """Where image ``source/id`` comes from (see ``SkinLesionDataModule.source``)."""
        child, local = self._child(sid)
        return child.source(local)

    def train_shares(self) -> dict[str, int]:
        """Training images drawn from each source per epoch."""
        sampler = self._train_sampler()
        return dict(zip(self.children, sampler.counts, strict=True))

    def _train_sampler(self) -> WeightedSourceSampler:
        train = self.datasets["train"]
        sizes = [len(p) for p in train.parts]
        weights = (
            [float(s) for s in sizes]
            if self.weights is None
            else [self.weights.get(n, 0.0) for n in train.names]
        )
        empty = [n for n, s, w in zip(train.names, sizes, weights, strict=True) if w and not s]
        if empty:
            raise ValueError(f"data.weights draws from {empty}, whose training split is empty")
        return WeightedSourceSampler(sizes, weights, self.seed, self.epoch_size or len(train))

    def save_split(self, path: str | Path) -> Path:
        """Every source's split and settings, in one JSON."""
        if self.split is None:
            raise RuntimeError("setup() must run before the split can be saved")
        sources = {}
        for name, c in self.children.items():
            hp = c.hparams
            sources[name] = {
                "dataset": c.dataset,
                "root": str(c.root) if c.root else None,
                "options": c.layout_options,
                "seed": hp.seed,
                "num_folds": hp.num_folds,
                "fold": hp.fold,
                **{s: list(c.split[s]) for s in SPLIT_NAMES},
            }
        write_json(path, {"dataset": self.dataset, "weights": self.weights, "sources": sources})
        return Path(path)

    def _loader(self, name: str, sampler: Sampler, shuffle: bool) -> DataLoader:
        return DataLoader(
            self.datasets[name],
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=shuffle and len(sampler) > self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers,
        )

    def _need(self, name: str) -> SourcesDataset:
        if name not in self.datasets:
            raise RuntimeError(f"no {name} split: it is empty or setup() has not run")
        return self.datasets[name]

    def train_dataloader(self) -> DataLoader:
        self._need("train")
        return self._loader("train", self._train_sampler(), shuffle=True)

    def val_dataloader(self) -> DataLoader:
        sampler = EpochSeededSampler(len(self._need("val")), self.seed, shuffle=False)
        return self._loader("val", sampler, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        sampler = EpochSeededSampler(len(self._need("test")), self.seed, shuffle=False)
        return self._loader("test", sampler, shuffle=False)

    def recipe(self) -> dict:
        """What prediction needs to preprocess new images as in training."""
        return {"image_size": list(self.image_size), "mean": list(self.mean), "std": list(self.std)}
