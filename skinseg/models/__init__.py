"""Segmentation architectures, registered by name.

Every model is a plain ``nn.Module`` mapping ``(N, C, H, W)`` images to ``(N, 1, H, W)`` logits
for any H and W. A new architecture is a module here whose class is decorated with
``@register("name")`` and imported below, plus ``conf/model/<name>.yaml``.
"""

from skinseg.models.registry import GRID, MODELS, register
from skinseg.models.segnet import SegNet
from skinseg.models.smp import SMPModel
from skinseg.models.unet import UNet
from skinseg.models.unet2 import UNet2

__all__ = ["GRID", "MODELS", "SMPModel", "SegNet", "UNet", "UNet2", "register"]
