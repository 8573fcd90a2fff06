"""Segmentation losses as ``nn.Module``s taking logits and a float {0, 1} target."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from skinseg.losses import _functional as LF

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


class BCELoss(nn.Module):
    """Binary cross-entropy on logits.

    Args:
        pos_weight: weight of the lesion class (> 0), e.g. the background/lesion pixel ratio.
        reduction: ``mean``, ``sum`` or ``none`` (element-wise).

    Shape:
        logits, target: (N, 1, H, W).
    """

    def __init__(self, pos_weight: float | None = None, reduction: str = "mean") -> None:
        super().__init__()
        if pos_weight is not None and not pos_weight > 0:
            raise ValueError(f"pos_weight must be > 0, got {pos_weight!r}")
        self.pos_weight = pos_weight
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        LF.check_pair(logits, target)
        return LF.reduce(LF.bce_with_logits(logits, target, self.pos_weight), self.reduction)


class DiceLoss(nn.Module):
    """Soft Dice loss on sigmoid probabilities.

    Args:
        smooth: added to numerator and denominator (>= 0); keeps empty masks defined.
        per_image: Dice per image then reduced (True) or one Dice over the batch (False).
        reduction: ``mean``, ``sum`` or ``none`` (per image; ignored when ``per_image`` is False).
    """

    def __init__(self, smooth: float = 1.0, per_image: bool = True, reduction: str = "mean"):
        super().__init__()
        if smooth < 0:
            raise ValueError(f"smooth must be >= 0, got {smooth!r}")
        self.smooth, self.per_image = smooth, per_image
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        LF.check_pair(logits, target)
        loss = LF.soft_dice_loss(logits, target, self.smooth, self.per_image)
        return LF.reduce(loss, self.reduction) if self.per_image else loss


class FocalLoss(nn.Module):
    """Binary focal loss on logits.

    Args:
        alpha: weight of the lesion class in [0, 1], or None for no class weighting.
        gamma: focusing parameter (>= 0); 0 with ``alpha=None`` is plain BCE.
        reduction: ``mean``, ``sum`` or ``none`` (element-wise).
    """

    def __init__(self, alpha: float | None = 0.25, gamma: float = 2.0, reduction: str = "mean"):
        super().__init__()
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1] or None, got {alpha!r}")
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        self.alpha, self.gamma = alpha, gamma
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        LF.check_pair(logits, target)
        return LF.reduce(LF.focal_loss(logits, target, self.alpha, self.gamma), self.reduction)


class LovaszHingeLoss(nn.Module):
    """Lovasz hinge loss on logits: per image, a convex surrogate of ``1 - Jaccard``.

    It optimises the per-image Jaccard index the field reports; pair it with BCE (``bce_lovasz``)
    for smooth per-pixel gradients early in training.

    Args:
        reduction: ``mean``, ``sum`` or ``none`` (per image).
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        LF.check_pair(logits, target)
        return LF.reduce(LF.lovasz_hinge(logits, target), self.reduction)


class ComboLoss(nn.Module):
    """Weighted sum of losses, e.g. BCE + Dice (as MONAI's ``DiceCELoss``).

    Args:
        losses: the parts, as a mapping name -> loss module or a sequence of modules.
        weights: one non-negative weight per part (default: all 1).

    The parts must reduce to scalars (``reduction`` ``mean`` or ``sum``).
    """

    def __init__(
        self,
        losses: Mapping[str, nn.Module] | Sequence[nn.Module],
        weights: Sequence[float] | Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(losses, Mapping):
            names, modules = list(losses.keys()), list(losses.values())
        else:
            modules = list(losses)
            names = [f"{type(m).__name__.lower()}_{i}" for i, m in enumerate(modules)]
        if not modules:
            raise ValueError("ComboLoss needs at least one loss")
        for name, module in zip(names, modules, strict=True):
            if not isinstance(module, nn.Module):
                raise TypeError(f"loss {name!r} must be an nn.Module, got {type(module).__name__}")
            if getattr(module, "reduction", "mean") == "none":
                raise ValueError(f"loss {name!r} has reduction='none'; ComboLoss needs scalars")
        if weights is None:
            weights = [1.0] * len(modules)
        elif isinstance(weights, Mapping):
            unknown = set(weights) - set(names)
            if unknown:
                raise ValueError(f"weights name unknown losses {sorted(unknown)}; have {names}")
            weights = [float(weights.get(n, 1.0)) for n in names]
        weights = [float(w) for w in weights]
        if len(weights) != len(modules):
            raise ValueError(f"got {len(weights)} weights for {len(modules)} losses")
        if any(w < 0 for w in weights):
            raise ValueError(f"weights must be >= 0, got {weights}")
        self.names = names
        self.parts = nn.ModuleList(modules)
        self.weights = weights

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        LF.check_pair(logits, target)
        total = logits.new_zeros(())
        for weight, loss in zip(self.weights, self.parts, strict=True):
            total = total + weight * loss(logits, target)
        return total
