"""Networks rebuilt from stored configs: only registered skinseg models, nothing else."""

from __future__ import annotations

from torch import nn

from skinseg.models import MODELS
from skinseg.recipe import Recipe


class CheckpointError(ValueError):
    """A model file is not a skinseg model or cannot be loaded safely."""


def build_net(net_config: dict, source: str = "checkpoint") -> nn.Module:
    """Rebuild a registered model from its ``_target_`` config (nothing else is instantiated)."""
    if not isinstance(net_config, dict) or "_target_" not in net_config:
        raise CheckpointError(f"{source}: no model config (_target_) stored")
    allowed = {f"{cls.__module__}.{cls.__name__}": cls for cls in MODELS.values()}
    allowed |= {f"skinseg.models.{cls.__name__}": cls for cls in MODELS.values()}
    target = net_config["_target_"]
    if target not in allowed:
        raise CheckpointError(
            f"{source}: model {target!r} is not a skinseg model; expected one of {sorted(allowed)}"
        )
    kwargs = {k: v for k, v in net_config.items() if not k.startswith("_")}
    for name in getattr(allowed[target], "WEIGHT_ARGS", ()):  # the stored weights replace them
        kwargs.pop(name, None)
    return allowed[target](**kwargs)


def stored_recipe(data, source) -> Recipe:
    """The :class:`Recipe` a model file stores, its errors as :class:`CheckpointError`."""
    try:
        return Recipe.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: its stored prediction recipe is invalid: {exc}") from exc
