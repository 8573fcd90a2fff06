"""Experiment trackers besides TensorBoard and CSV: MLflow and Weights & Biases, through
Lightning's own loggers (``logger=mlflow``, ``logger=wandb``), with the run's resolved config."""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def _require(module: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ImportError(f"logger={extra} needs {module}: pip install 'skinseg[{extra}]'")


def mlflow_logger(save_dir: str, tracking_uri: str | None = None, **kwargs):
    """Lightning's ``MLFlowLogger``; without a tracking URI (none given, no
    ``MLFLOW_TRACKING_URI``), a local file store in ``save_dir``, which MLflow 3 keeps in
    maintenance mode and allows only when asked (``MLFLOW_ALLOW_FILE_STORE``)."""
    _require("mlflow", "mlflow")
    from lightning.pytorch.loggers import MLFlowLogger

    tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not tracking_uri:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        tracking_uri = Path(save_dir).resolve().as_uri()
    return MLFlowLogger(save_dir=save_dir, tracking_uri=tracking_uri, **kwargs)


def wandb_offline() -> bool:
    """W&B runs offline unless the user has logged in (``wandb login`` writes ``~/.netrc``;
    ``WANDB_API_KEY``) or chose a mode (``WANDB_MODE``)."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE"):
        return False
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is None
    except (OSError, netrc.NetrcParseError):
        return True


def wandb_logger(offline: bool | None = None, **kwargs):
    """Lightning's ``WandbLogger``, offline unless the user is logged in (``offline: null``)."""
    _require("wandb", "wandb")
    from lightning.pytorch.loggers import WandbLogger

    offline = wandb_offline() if offline is None else offline
    if offline:
        log.info(
            "W&B offline: `wandb sync %s/wandb/offline-run-*` uploads it", kwargs.get("save_dir")
        )
    return WandbLogger(offline=offline, **kwargs)


def log_config(loggers, cfg: DictConfig, output_dir: Path) -> None:
    """Give the trackers the resolved config: as parameters (``config/model/base_width``, ...)
    and as a ``config_resolved.yaml`` file. TensorBoard and CSV runs keep theirs in the run
    folder already (``.hydra/``)."""
    from lightning.pytorch.loggers import MLFlowLogger, WandbLogger

    trackers = [lg for lg in loggers if isinstance(lg, MLFlowLogger | WandbLogger)]
    if not trackers:
        return
    own = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    resolved = OmegaConf.to_container(own, resolve=True)
    path = output_dir / "config_resolved.yaml"
    path.write_text(OmegaConf.to_yaml(resolved), encoding="utf-8")
    for tracker in trackers:
        tracker.log_hyperparams({"config": resolved})
        if isinstance(tracker, MLFlowLogger):
            tracker.experiment.log_artifact(tracker.run_id, str(path))
        else:
            tracker.experiment.save(str(path), base_path=str(output_dir), policy="now")
    log.info("Resolved config given to %s", ", ".join(type(t).__name__ for t in trackers))


def log_best_checkpoint(loggers, checkpoint: str | Path | None) -> None:
    """After fitting and calibration (the threshold is stored in it by then): the best
    checkpoint as an artifact of each tracker; then W&B's run is finished, so that the next
    run of a sweep starts its own."""
    from lightning.pytorch.loggers import MLFlowLogger, WandbLogger

    for tracker in loggers:
        if checkpoint and isinstance(tracker, MLFlowLogger):
            tracker.experiment.log_artifact(tracker.run_id, str(checkpoint), "checkpoints")
        elif isinstance(tracker, WandbLogger):
            import wandb

            run = tracker.experiment
            if checkpoint:
                artifact = wandb.Artifact(f"model-{run.id}", type="model")
                artifact.add_file(str(checkpoint))
                run.log_artifact(artifact, aliases=["best"])
            run.finish()
