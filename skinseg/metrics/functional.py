"""Per-image confusion counts and the scores the lesion-segmentation literature reports.

Conventions (those of the ISIC challenge scorer): a score whose denominator is zero is 1.0.
That happens when both truth and prediction are empty (Jaccard, Dice), when the truth has no
lesion pixel (sensitivity) or no background pixel (specificity).
"""

from __future__ import annotations

import torch

ISIC_JACCARD_THRESHOLD = 0.65


def binarize(
    preds: torch.Tensor, threshold: float = 0.5, from_logits: bool | None = None
) -> torch.Tensor:
    """Turn logits, probabilities or a mask into a boolean mask.

    Args:
        preds: float logits or probabilities, or an integer/boolean mask.
        threshold: probability above which a pixel is lesion.
        from_logits: True for logits, False for probabilities; None decides as torchmetrics
            does (float values outside [0, 1] are logits).
    """
    if not preds.is_floating_point():
        return preds > 0 if preds.dtype != torch.bool else preds
    if from_logits is None:
        from_logits = bool(((preds < 0) | (preds > 1)).any())
    if from_logits:
        preds = preds.sigmoid()
    return preds > threshold


def confusion_per_image(
    preds: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """True/false positive/negative pixel counts for each image.

    Shape:
        preds, target: boolean (N, ...) masks. Returns four (N,) float64 tensors tp, fp, fn, tn.
    """
    if preds.shape != target.shape:
        raise ValueError(
            f"target has different shape {tuple(target.shape)} from preds {tuple(preds.shape)}"
        )
    p = preds.reshape(preds.shape[0], -1)
    t = target.reshape(target.shape[0], -1)
    tp = (p & t).sum(1, dtype=torch.float64)
    fp = (p & ~t).sum(1, dtype=torch.float64)
    fn = (~p & t).sum(1, dtype=torch.float64)
    tn = (~p & ~t).sum(1, dtype=torch.float64)
    return tp, fp, fn, tn


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(den > 0, num / den.clamp_min(1), torch.ones_like(num))


def jaccard_score(tp, fp, fn, tn):
    """Per-image Jaccard ``tp / (tp + fp + fn)``."""
    return _ratio(tp, tp + fp + fn)


def dice_score(tp, fp, fn, tn):
    """Per-image Dice ``2 tp / (2 tp + fp + fn)``."""
    return _ratio(2 * tp, 2 * tp + fp + fn)


def threshold_jaccard_score(tp, fp, fn, tn, threshold: float = ISIC_JACCARD_THRESHOLD):
    """ISIC 2018 rule: the per-image Jaccard, or 0 where it is below ``threshold``."""
    j = jaccard_score(tp, fp, fn, tn)
    return torch.where(j < threshold, torch.zeros_like(j), j)


def accuracy_score(tp, fp, fn, tn):
    """Per-image pixel accuracy."""
    return _ratio(tp + tn, tp + fp + fn + tn)


def sensitivity_score(tp, fp, fn, tn):
    """Per-image sensitivity (recall of lesion pixels)."""
    return _ratio(tp, tp + fn)


def specificity_score(tp, fp, fn, tn):
    """Per-image specificity (recall of background pixels)."""
    return _ratio(tn, tn + fp)


PER_IMAGE_SCORES = {
    "jaccard": jaccard_score,
    "dice": dice_score,
    "threshold_jaccard": threshold_jaccard_score,
    "accuracy": accuracy_score,
    "sensitivity": sensitivity_score,
    "specificity": specificity_score,
}
