"""U-Net: max-pool down, interpolation + convolution up, skip concatenation.

Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015.
"""

from __future__ import annotations

import torch
from torch import nn

from skinseg.models.blocks import DoubleConv, PaddedSegmentationModel, check_arch_args, stage_widths
from skinseg.models.registry import register


class UpInterp(nn.Module):
    """Bilinear x2 upsampling followed by a 3x3 convolution that halves the channels."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.up(x))


@register("unet")
class UNet(PaddedSegmentationModel):
    """U-Net with BatchNorm.

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
        self.pool = nn.MaxPool2d(2)
        self.down = nn.ModuleList(DoubleConv(widths[i], widths[i + 1]) for i in range(depth))
        self.up = nn.ModuleList(UpInterp(widths[i + 1], widths[i]) for i in range(depth))
        self.merge = nn.ModuleList(DoubleConv(2 * widths[i], widths[i]) for i in range(depth))
        self.head = nn.Conv2d(widths[0], 1, 1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]  # (N, w0, H, W)
        for block in self.down:
            skips.append(block(self.pool(skips[-1])))  # (N, w_i+1, H/2^(i+1), W/2^(i+1))
        y = skips.pop()
        for i in reversed(range(self.depth)):
            y = self.up[i](y)  # (N, w_i, H/2^i, W/2^i)
            y = self.merge[i](torch.cat([skips[i], y], dim=1))
        return self.head(y)  # (N, 1, H, W)
