"""The model registry: every architecture registers its class under the name configs use.

Registering is what makes a model buildable from a checkpoint (the loader rebuilds only
registered classes), listed by ``skinseg models`` and swept by the model x loss grid
(``${skinseg.models:}`` in ``conf/experiment/grid.yaml`` and ``demo.yaml``).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

MODELS: dict[str, type[nn.Module]] = {}
# The models the grid sweeps by default (an optional family such as smp joins when named).
GRID: list[str] = []


def register(name: str, grid: bool = True) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: ``@register("unet")`` adds the class to :data:`MODELS` (and, with
    ``grid``, to the default model x loss grid).

    Raises:
        ValueError: the name is taken by another class.
    """

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if MODELS.get(name, cls) is not cls:
            raise ValueError(f"model name {name!r} is already registered by {MODELS[name]}")
        MODELS[name] = cls
        if grid and name not in GRID:
            GRID.append(name)
        return cls

    return add
