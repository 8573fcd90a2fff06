"""Building blocks shared by the segmentation architectures."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def check_arch_args(in_channels: int, base_width: int, depth: int) -> None:
    """Validate the arguments every architecture takes.

    Raises:
        ValueError: if any argument is not a positive integer (depth may be at most 7).
    """
    for name, value in (("in_channels", in_channels), ("base_width", base_width)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(depth, int) or not 1 <= depth <= 7:
        raise ValueError(f"depth must be an integer in [1, 7], got {depth!r}")


def stage_widths(base_width: int, depth: int, max_width: int = 512) -> list[int]:
    """Channel widths of the encoder stages: base, 2*base, ... capped at ``max_width``."""
    return [min(base_width * 2**i, max(max_width, base_width)) for i in range(depth + 1)]


class ConvBNReLU(nn.Sequential):
    """3x3 convolution (no bias: BatchNorm follows), BatchNorm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DoubleConv(nn.Sequential):
    """Two ConvBNReLU blocks, the unit of every U-Net stage (Ronneberger et al., 2015)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            ConvBNReLU(in_channels, out_channels),
            ConvBNReLU(out_channels, out_channels),
        )


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad the bottom and right of ``x`` so that H and W are multiples of ``multiple``.

    Reflection padding keeps the border statistics close to the image's own, which matters for
    lesions that touch the border. Falls back to replicate padding where the image is too small
    to reflect.

    Returns:
        The padded tensor and the original ``(H, W)`` to crop back to.
    """
    h, w = x.shape[-2:]
    pad_h = (multiple - h % multiple) % multiple
    pad_w = (multiple - w % multiple) % multiple
    if pad_h == 0 and pad_w == 0:
        return x, (h, w)
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode), (h, w)


class PaddedSegmentationModel(nn.Module):
    """Base for models that need H and W divisible by ``2**depth``: pads, runs, crops back.

    Subclasses implement ``_forward`` on padded input and set ``self.depth``;
    ``ENCODER`` names their down-sampling path's submodules (what fine-tuning may train at a
    lower learning rate or freeze).
    """

    depth: int
    ENCODER: tuple[str, ...] = ("stem", "down")

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The parameters of the encoder (the ``ENCODER`` submodules)."""
        return [p for module in self.encoder_modules() for p in module.parameters()]

    def encoder_modules(self) -> list[nn.Module]:
        return [self.get_submodule(name) for name in self.ENCODER]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Segment a batch.

        Shape:
            x: (N, C, H, W) with any H, W >= 1. Returns logits (N, 1, H, W).
        """
        if x.ndim != 4:
            raise ValueError(f"expected input of shape (N, C, H, W), got {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected {self.in_channels} input channels, got {x.shape[1]} "
                f"(input shape {tuple(x.shape)})"
            )
        padded, (h, w) = pad_to_multiple(x, 2**self.depth)
        return self._forward(padded)[..., :h, :w]
