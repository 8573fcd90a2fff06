"""Segmentation architectures, registered by name.

Every model is a plain ``nn.Module`` mapping ``(N, C, H, W)`` images to ``(N, 1, H, W)`` logits
for any H and W.
"""

from __future__ import annotations

from torch import nn

from skinseg.models.segnet import SegNet
from skinseg.models.unet import UNet
from skinseg.models.unet2 import UNet2

MODELS: dict[str, type[nn.Module]] = {"segnet": SegNet, "unet": UNet, "unet2": UNet2}


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model by name.

    Raises:
        ValueError: if ``name`` is not registered.
    """
    try:
        cls = MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}") from None
    return cls(**kwargs)


__all__ = ["MODELS", "SegNet", "UNet", "UNet2", "build_model"]
