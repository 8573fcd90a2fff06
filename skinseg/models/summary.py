"""Parameter counts and forward FLOPs of the registered models, for the README's table."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from skinseg.models import MODELS


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def forward_flops(model: torch.nn.Module, size: tuple[int, int] = (256, 256), channels: int = 3):
    """FLOPs (2 per multiply-add) of one forward pass of a single image, counted by PyTorch."""
    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    with counter, torch.no_grad():
        model(torch.zeros(1, channels, *size))
    model.train(was_training)
    return counter.get_total_flops()


def model_table(size: tuple[int, int] = (256, 256)) -> str:
    """A Markdown table of every registered model at its default width."""
    rows = [
        f"| model | class | parameters | forward GFLOPs at {size[0]}x{size[1]} |",
        "| --- | --- | ---: | ---: |",
    ]
    for name, cls in MODELS.items():
        for options in getattr(cls, "TABLE_VARIANTS", ({},)):
            label = " ".join([name, *(f"{k}={v}" for k, v in options.items())])
            try:
                model = cls(**options)
            except ImportError as exc:  # an optional family whose extra is not installed
                rows.append(f"| `{label}` | `{cls.__name__}` | {exc} | |")
                continue
            rows.append(
                f"| `{label}` | `{cls.__name__}` | {count_parameters(model) / 1e6:.2f} M "
                f"| {forward_flops(model, size) / 1e9:.1f} |"
            )
    return "\n".join(rows)
