"""torchmetrics metrics for binary lesion segmentation.

``IoU`` is dataset-level (all pixels of all images pooled); every other metric is computed per
image and averaged over images, as the ISIC challenge and the papers report them.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric, MetricCollection

from skinseg.metrics import functional as MF


class _BinarySegmentationMetric(Metric):
    """Shared input handling: threshold logits/probabilities, binarise the target."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, threshold: float = 0.5, from_logits: bool | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
        self.threshold, self.from_logits = threshold, from_logits

    def _confusion(self, preds: torch.Tensor, target: torch.Tensor):
        if preds.shape != target.shape:
            raise ValueError(
                f"target has different shape {tuple(target.shape)} from preds {tuple(preds.shape)}"
            )
        if preds.ndim < 2:
            raise ValueError(f"expected a batch of shape (N, ...), got {tuple(preds.shape)}")
        p = MF.binarize(preds, self.threshold, self.from_logits)
        t = target > 0.5 if target.is_floating_point() else target > 0
        return MF.confusion_per_image(p, t)


class IoU(_BinarySegmentationMetric):
    """Dataset-level IoU: total intersection over total union of all pixels of all images.

    Equal to torchmetrics' ``BinaryJaccardIndex`` on the same data. 1.0 if the union is empty.
    """

    def __init__(self, threshold: float = 0.5, from_logits: bool | None = None, **kwargs):
        super().__init__(threshold, from_logits, **kwargs)
        self.add_state("intersection", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("union", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        tp, fp, fn, _ = self._confusion(preds, target)
        self.intersection += tp.sum()
        self.union += (tp + fp + fn).sum()

    def compute(self) -> torch.Tensor:
        if self.union == 0:
            return torch.ones((), dtype=torch.float64)
        return self.intersection / self.union


class PerImageScore(_BinarySegmentationMetric):
    """Mean over images of one of the per-image scores of ``skinseg.metrics.functional``.

    Args:
        score: ``jaccard``, ``dice``, ``threshold_jaccard``, ``accuracy``, ``sensitivity`` or
            ``specificity``.
    """

    def __init__(
        self, score: str, threshold: float = 0.5, from_logits: bool | None = None, **kwargs
    ):
        super().__init__(threshold, from_logits, **kwargs)
        if score not in MF.PER_IMAGE_SCORES:
            raise ValueError(
                f"unknown score {score!r}; expected one of {list(MF.PER_IMAGE_SCORES)}"
            )
        self.score = score
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        values = MF.PER_IMAGE_SCORES[self.score](*self._confusion(preds, target))
        self.total += values.sum()
        self.count += values.numel()

    def compute(self) -> torch.Tensor:
        if self.count == 0:
            raise RuntimeError(f"{self.score}: compute() called before any update()")
        return self.total / self.count


METRIC_NAMES = ("iou", *MF.PER_IMAGE_SCORES)


def segmentation_metrics(
    threshold: float = 0.5, from_logits: bool | None = None, prefix: str | None = None
) -> MetricCollection:
    """All skinseg metrics in one collection: ``iou`` and the per-image scores.

    Args:
        prefix: prepended to each name, e.g. ``"val/"``.
    """
    metrics = {"iou": IoU(threshold, from_logits)}
    for name in MF.PER_IMAGE_SCORES:
        metrics[name] = PerImageScore(name, threshold, from_logits)
    return MetricCollection(metrics, prefix=prefix, compute_groups=False)
