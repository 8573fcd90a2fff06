"""Training: the LightningModule, callbacks and the pipeline behind ``train.py``."""

from omegaconf import OmegaConf

from skinseg.training.module import SegmentationModule


def register_resolvers() -> None:
    """OmegaConf resolvers the configs use (``${skinseg.run_name:}``, ``${skinseg.cwd:}``,
    ``${skinseg.models:}``)."""
    import os

    if not OmegaConf.has_resolver("skinseg.cwd"):
        # Unlike ${hydra:runtime.cwd}, this resolves before Hydra starts a job (sweep dirs).
        OmegaConf.register_new_resolver("skinseg.cwd", os.getcwd)
    if not OmegaConf.has_resolver("skinseg.run_name"):
        from skinseg.training.run import run_name

        OmegaConf.register_new_resolver("skinseg.run_name", run_name)
    if not OmegaConf.has_resolver("skinseg.models"):
        # The grid sweeps the registered architectures of the default grid: "segnet,unet,unet2"
        # (an optional family, smp, joins when named: model=segnet,unet,unet2,smp).
        from skinseg.models import GRID

        OmegaConf.register_new_resolver("skinseg.models", lambda: ",".join(sorted(GRID)))


register_resolvers()

__all__ = ["SegmentationModule", "register_resolvers"]
