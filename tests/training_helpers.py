"""Compose the real Hydra config with tiny limits, as train.py would, for tests."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

import skinseg.training  # noqa: F401  (resolvers)

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")

# Tiny settings as command-line overrides, for tests that run train.py itself.
TINY_CLI = [
    "data=synthetic",
    "data.num_synthetic=16",
    "data.image_size=[32,32]",
    "data.num_workers=0",
    "model.base_width=4",
    "model.depth=2",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
]
# ... and for tests that compose the config: one epoch of batches of 4, no model summary.
TINY = [
    *TINY_CLI,
    "data.batch_size=4",
    "trainer.max_epochs=1",
    "trainer.enable_model_summary=false",
]


def compose_config(overrides: list[str], output_dir: Path, tiny: bool = True):
    """The composed config with Hydra's runtime fields set, as inside a ``@hydra.main`` job."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(
            "train", overrides=(TINY if tiny else []) + list(overrides), return_hydra_config=True
        )
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.job.override_dirname = ",".join(o for o in overrides if "=" in o)
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.log_dir = str(output_dir / "logs")
    HydraConfig().set_config(cfg)
    return cfg


class NanAfter:
    """A BCE loss that returns NaN from its ``step``-th training call on (fault injection)."""

    def __new__(cls, step: int = 3):
        import torch

        from skinseg.losses import BCELoss

        class _Nan(BCELoss):
            calls = 0

            def forward(self, logits, target):
                type(self).calls += torch.is_grad_enabled()  # validation runs without grad
                value = super().forward(logits, target)
                return value * float("nan") if type(self).calls >= step else value

        return _Nan()


def pretend_not_installed(monkeypatch, package: str) -> None:
    """Make ``importlib.util.find_spec(package)`` answer None, as without that extra."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == package else find_spec(name, *a),
    )
