"""Architectures and (pretrained) encoders of segmentation_models_pytorch, an optional extra
(``pip install "skinseg[smp]"``), behind skinseg's contract: logits ``(N, 1, H, W)`` for any H
and W, a registry name, checkpoints rebuilt without the training code.

``encoder_weights`` is smp's own name (``imagenet``: downloaded into smp's cache), ``null``
(random), or a local file of the encoder's state dict (``.pth``/``.pt`` read weights-only, or
``.safetensors``): the way to use pretrained weights without a network.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from skinseg.models.blocks import PaddedSegmentationModel
from skinseg.models.registry import register

INSTALL = "model=smp needs segmentation-models-pytorch: pip install 'skinseg[smp]'"


def smp_available() -> bool:
    return importlib.util.find_spec("segmentation_models_pytorch") is not None


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """An encoder's weights from a local file (safetensors, or a weights-only torch file)."""
    if not path.is_file():
        raise FileNotFoundError(f"encoder weights file {path} not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict of the encoder's tensors")
    return state


@register("smp", grid=False)
class SMPModel(PaddedSegmentationModel):
    """A segmentation_models_pytorch model with one output class (logits).

    Args:
        arch: smp's architecture name (``Unet``, ``UnetPlusPlus``, ``FPN``, ``DeepLabV3Plus``,
            ``Linknet``, ...).
        encoder: smp's encoder name (``resnet18``, ``resnet34``, ``efficientnet-b0``, ...).
        encoder_weights: ``null``, smp's name for pretrained weights (``imagenet``), or the
            path of a local file of the encoder's state dict.
        encoder_depth: down-sampling steps of the encoder (inputs are padded to a multiple of
            ``2**encoder_depth``).
        in_channels: channels of the input image.
    """

    ENCODER = ("model.encoder",)
    # Arguments that only say where initial weights come from: a checkpoint's own weights
    # replace them, so prediction rebuilds the model without them (no file, no download).
    WEIGHT_ARGS = ("encoder_weights",)
    TABLE_VARIANTS = ({"encoder": "resnet18"}, {"encoder": "resnet34"})

    def __init__(
        self,
        arch: str = "Unet",
        encoder: str = "resnet34",
        encoder_weights: str | None = None,
        encoder_depth: int = 5,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if not smp_available():
            raise ImportError(INSTALL)
        import segmentation_models_pytorch as smp

        self.in_channels, self.depth = in_channels, encoder_depth
        local = encoder_weights is not None and (
            "/" in str(encoder_weights) or Path(str(encoder_weights)).suffix
        )
        try:
            self.model = smp.create_model(
                arch,
                encoder_name=encoder,
                encoder_weights=None if local else encoder_weights,
                encoder_depth=encoder_depth,
                in_channels=in_channels,
                classes=1,
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"smp model {arch} with encoder {encoder}: {exc}") from exc
        if local:
            self.load_encoder(Path(str(encoder_weights)).expanduser())

    def load_encoder(self, path: Path) -> None:
        """Load a local file of encoder weights; every tensor must fit.

        Raises:
            ValueError: tensors missing, extra or of another shape (the first ones named).
        """
        state = read_state_dict(path)
        own = self.model.encoder.state_dict()
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}  # classifier head
        missing = sorted(set(own) - set(state))
        extra = sorted(set(state) - set(own))
        shapes = [k for k in set(own) & set(state) if own[k].shape != state[k].shape]
        if missing or extra or shapes:
            raise ValueError(
                f"{path}: not weights of this encoder: {len(missing)} missing {missing[:3]}, "
                f"{len(extra)} unexpected {extra[:3]}, {len(shapes)} of another shape "
                f"{sorted(shapes)[:3]}"
            )
        self.model.encoder.load_state_dict(state)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
