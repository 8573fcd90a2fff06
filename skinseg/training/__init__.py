"""Training: the LightningModule, callbacks and the pipeline behind ``train.py``."""

from omegaconf import OmegaConf

from skinseg.training.module import SegmentationModule


def register_resolvers() -> None:
    """OmegaConf resolvers the configs use (``${skinseg.run_name:}``)."""
    if not OmegaConf.has_resolver("skinseg.run_name"):
        from skinseg.training.run import run_name

        OmegaConf.register_new_resolver("skinseg.run_name", run_name)


register_resolvers()

__all__ = ["SegmentationModule", "register_resolvers"]
