"""A sampler that makes shuffling and augmentation a pure function of (seed, epoch, index)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

_PRIME = 1_000_003


def item_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of one item in one epoch."""
    return ((seed * _PRIME + epoch) * _PRIME + index) % 2**32


class EpochSeededSampler(Sampler[tuple[int, int]]):
    """Yields ``(index, item_seed)``: the order and each item's augmentation depend only on
    the seed and the epoch, not on workers or on what ran before.

    Lightning calls :meth:`set_epoch` before every epoch, also after resuming from a
    checkpoint, so a resumed run sees the same batches and augmentations as an uninterrupted
    one.
    """

    def __init__(self, length: int, seed: int, shuffle: bool = True) -> None:
        self.length, self.seed, self.shuffle = length, seed, shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(item_seed(self.seed, self.epoch, -1))
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = range(self.length)
        for i in order:
            yield i, item_seed(self.seed, self.epoch, i)
