"""Pure loss math on logits. The ``nn.Module`` wrappers in this package validate and reduce."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def check_pair(logits: torch.Tensor, target: torch.Tensor) -> None:
    """Raise a clear error unless ``logits`` and ``target`` are same-shaped float tensors.

    Raises:
        TypeError: if either is not a floating-point tensor.
        ValueError: if their shapes differ or have fewer than 2 dimensions.
    """
    if not (torch.is_tensor(logits) and torch.is_tensor(target)):
        raise TypeError(
            f"expected tensors, got {type(logits).__name__} and {type(target).__name__}"
        )
    if logits.shape != target.shape:
        raise ValueError(
            f"ground truth has different shape {tuple(target.shape)} "
            f"from input {tuple(logits.shape)}"
        )
    if logits.ndim < 2:
        raise ValueError(f"expected input of shape (N, ...), got {tuple(logits.shape)}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got {logits.dtype}")


def reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce per-element (or per-image) losses by ``mean``, ``sum`` or ``none``."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def bce_with_logits(
    logits: torch.Tensor, target: torch.Tensor, pos_weight: float | None = None
) -> torch.Tensor:
    """Element-wise binary cross-entropy, computed stably from logits."""
    weight = None if pos_weight is None else logits.new_tensor(pos_weight)
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight, reduction="none")


def soft_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0, per_image: bool = True
) -> torch.Tensor:
    """Soft Dice loss ``1 - (2|P.T| + s) / (|P| + |T| + s)`` on sigmoid probabilities.

    Milletari et al., "V-Net", 3DV 2016.

    Args:
        per_image: one Dice per image (shape (N,)) if True; one over the whole batch (shape ())
            if False.

    Shape:
        logits, target: (N, ...). Returns (N,) or ().
    """
    probs = F.logsigmoid(logits).exp()  # stable sigmoid, no overflow at large |logits|
    dims = tuple(range(1, logits.ndim)) if per_image else tuple(range(logits.ndim))
    intersection = (probs * target).sum(dims)
    cardinality = probs.sum(dims) + target.sum(dims)
    return 1.0 - (2.0 * intersection + smooth) / (cardinality + smooth)


def focal_loss(
    logits: torch.Tensor, target: torch.Tensor, alpha: float | None = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Element-wise binary focal loss ``-alpha_t (1 - p_t)^gamma log(p_t)``.

    Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017. ``log(p_t)`` is the negative
    BCE and ``1 - p_t`` is computed in log space, so logits of +-100 stay finite.
    """
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")  # -log(p_t)
    # log(1 - p_t) = logsigmoid(-z) where z = logit of the true class.
    z = logits * (2.0 * target - 1.0)
    modulator = torch.exp(gamma * F.logsigmoid(-z)) if gamma else torch.ones_like(bce)
    loss = modulator * bce
    if alpha is not None:
        loss = (alpha * target + (1.0 - alpha) * (1.0 - target)) * loss
    return loss


def lovasz_hinge(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image Lovasz hinge: a convex surrogate of the Jaccard loss ``1 - IoU``.

    Berman, Rannen Triki and Blaschko, "The Lovasz-Softmax loss: A tractable surrogate for the
    optimization of the intersection-over-union measure in neural networks", CVPR 2018.
    Each pixel's hinge error ``max(0, 1 - z s)`` (``s = +-1`` its true class) is weighted by
    how much the Jaccard loss grows when that pixel joins the set of the image's worst pixels,
    so the loss is the Lovasz extension of the per-image Jaccard loss at the errors. An image
    without lesion scores its largest error (the Jaccard loss of one false positive is 1).

    Shape:
        logits, target: (N, ...). Returns (N,).
    """
    logits = logits.flatten(1)
    target = target.flatten(1).to(logits.dtype)
    errors = 1.0 - logits * (2.0 * target - 1.0)
    errors_sorted, order = torch.sort(errors, dim=1, descending=True)
    truth_sorted = target.gather(1, order)
    positives = truth_sorted.sum(1, keepdim=True)
    # Jaccard loss of calling the k worst pixels wrong, for k = 1..P; its increments weight them.
    intersection = positives - truth_sorted.cumsum(1)
    union = positives + (1.0 - truth_sorted).cumsum(1)
    jaccard_loss = 1.0 - intersection / union
    weights = torch.cat([jaccard_loss[:, :1], jaccard_loss[:, 1:] - jaccard_loss[:, :-1]], dim=1)
    return (F.relu(errors_sorted) * weights).sum(1)
