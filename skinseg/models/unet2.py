"""UNet2: the U-Net with learned resampling.

Downsampling by stride-2 convolutions instead of max-pooling, upsampling by stride-2 transposed
convolutions instead of interpolation; everything else as in :class:`~skinseg.models.unet.UNet`.
"""

from __future__ import annotations

import torch
from torch import nn

from skinseg.models.blocks import (
    ConvBNReLU,
    DoubleConv,
    PaddedSegmentationModel,
    check_arch_args,
    stage_widths,
)
from skinseg.models.registry import register


@register("unet2")
class UNet2(PaddedSegmentationModel):
    """U-Net with stride-2 convolutions down and stride-2 transposed convolutions up.

    Args:
        in_channels: channels of the input image.
        base_width: channels of the first stage; each deeper stage doubles it (capped at 512).
        depth: number of down-sampling steps.
    """

    def __init__(self, in_channels: int = 3, base_width: int = 32, depth: int = 4) -> None:
        super().__init__()
        check_arch_args(in_channels, base_width, depth)
        self.in_channels, self.depth = in_channels, depth
        widths = stage_widths(base_width, depth)
        self.stem = DoubleConv(in_channels, widths[0])
        # A strided ConvBNReLU replaces the pool and the first conv of each down stage.
        self.down = nn.ModuleList(
            nn.Sequential(
                ConvBNReLU(widths[i], widths[i + 1], stride=2),
                ConvBNReLU(widths[i + 1], widths[i + 1]),
            )
            for i in range(depth)
        )
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(depth)
        )
        self.merge = nn.ModuleList(DoubleConv(2 * widths[i], widths[i]) for i in range(depth))
        self.head = nn.Conv2d(widths[0], 1, 1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]  # (N, w0, H, W)
        for block in self.down:
            skips.append(block(skips[-1]))  # (N, w_i+1, H/2^(i+1), W/2^(i+1))
        y = skips.pop()
        for i in reversed(range(self.depth)):
            y = self.up[i](y)  # (N, w_i, H/2^i, W/2^i)
            y = self.merge[i](torch.cat([skips[i], y], dim=1))
        return self.head(y)  # (N, 1, H, W)
