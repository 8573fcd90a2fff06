"""The prediction recipe stored with every model: preprocessing and post-processing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from skinseg.data.augment import IMAGENET_MEAN, IMAGENET_STD


@dataclass
class Recipe:
    """How to turn an image into a mask as the model was trained to.

    Attributes:
        image_size: ``(H, W)`` the model sees; predictions are resized back to each image.
        mean, std: normalisation of 0..1 RGB values.
        threshold: probability above which a pixel is lesion.
        tta: average flips (and 90-degree rotations on square inputs) at test time.
        largest_component: keep only the largest connected lesion region.
        fill_holes: fill holes inside lesion regions.
    """

    image_size: tuple[int, int] = (256, 256)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    threshold: float = 0.5
    tta: bool = False
    largest_component: bool = False
    fill_holes: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict | None) -> Recipe:
        """Build from a stored dict; unknown keys are kept in ``extra``, bad values raise."""
        data = dict(data or {})
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: data.pop(k) for k in list(data) if k in names}
        recipe = cls(**known, extra=data)
        recipe.image_size = tuple(int(v) for v in recipe.image_size)
        recipe.mean = tuple(float(v) for v in recipe.mean)
        recipe.std = tuple(float(v) for v in recipe.std)
        if len(recipe.image_size) != 2 or min(recipe.image_size) < 1:
            raise ValueError(f"recipe image_size must be (H, W), got {recipe.image_size}")
        if not 0.0 <= float(recipe.threshold) <= 1.0:
            raise ValueError(f"recipe threshold must be in [0, 1], got {recipe.threshold}")
        return recipe

    def to_dict(self) -> dict:
        out = asdict(self)
        extra = out.pop("extra")
        out["image_size"], out["mean"], out["std"] = (
            list(self.image_size),
            list(self.mean),
            list(self.std),
        )
        return {**extra, **out}
