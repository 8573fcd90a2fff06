"""The training pipeline behind ``train.py``: data, model, trainer, fit, test, metrics.json."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from skinseg.atomic import write_json
from skinseg.training.calibrate import calibrate_and_score
from skinseg.training.checkpoint_io import AtomicCheckpointIO
from skinseg.training.history import MetricsHistory
from skinseg.training.module import SegmentationModule
from skinseg.training.provenance import collapsed, environment

log = logging.getLogger(__name__)


def _choices(cfg: DictConfig) -> dict[str, str]:
    """The config-group options chosen (``model=unet``...), from Hydra when it runs."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return {
            k: str(v)
            for k, v in HydraConfig.get().runtime.choices.items()
            if not k.startswith("hydra") and v is not None
        }
    return {}


def run_name() -> str:
    """A readable name for this run: its command-line overrides (``model=unet,loss=dice``)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return "default"
    name = HydraConfig.get().job.override_dirname or "default"
    return re.sub(r"[^A-Za-z0-9=,._+-]", "_", name)[:200]


def instantiate_dict(section: DictConfig | None) -> list:
    """Instantiate every ``_target_`` node of a config section (callbacks, loggers)."""
    if not section:
        return []
    return [
        hydra.utils.instantiate(node)
        for node in section.values()
        if isinstance(node, DictConfig) and "_target_" in node
    ]


def best_checkpoint(trainer: L.Trainer) -> str:
    """Path of the best checkpoint of the first monitored ModelCheckpoint ('' if none)."""
    monitored = [c for c in trainer.checkpoint_callbacks if getattr(c, "monitor", None)]
    return monitored[0].best_model_path if monitored else ""


def build_module(cfg: DictConfig, recipe: dict) -> SegmentationModule:
    """The LightningModule with the net, loss, optimizer and scheduler the config names."""
    net = hydra.utils.instantiate(cfg.model)
    loss = hydra.utils.instantiate(cfg.loss)
    optimizer = hydra.utils.instantiate(cfg.optimizer)
    scheduler = hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    return SegmentationModule(
        net=net,
        loss=loss,
        optimizer=optimizer,
        scheduler=scheduler,
        net_config=OmegaConf.to_container(cfg.model, resolve=True),
        recipe=recipe,
        **OmegaConf.to_container(cfg.get("module", {}), resolve=True),
    )


def train(cfg: DictConfig) -> dict:
    """Fit, test the best checkpoint, write ``metrics.json``; return its contents."""
    start = time.time()
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    done = output_dir / "metrics.json"
    if cfg.get("resume") and done.is_file():
        previous = json.loads(done.read_text(encoding="utf-8"))
        if previous.get("status") == "completed":
            log.info("%s: already completed, skipped (resume=true)", output_dir)
            return previous
    write_json(output_dir / "environment.json", environment(Path(__file__).resolve().parent))
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    torch.set_float32_matmul_precision("high")

    datamodule = hydra.utils.instantiate(
        cfg.data, split_output=str(output_dir / "split.json"), _convert_="all"
    )
    datamodule.setup("fit")  # fail on bad data now, before building anything else
    recipe = {
        **datamodule.recipe(),
        **OmegaConf.to_container(cfg.get("recipe") or {}, resolve=True),
    }
    module = build_module(cfg, recipe)

    history = MetricsHistory()
    callbacks = [*instantiate_dict(cfg.get("callbacks")), history]
    loggers = instantiate_dict(cfg.get("logger"))
    if not loggers:
        callbacks = [c for c in callbacks if type(c).__name__ != "LearningRateMonitor"]
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        plugins=[AtomicCheckpointIO()],
    )

    log.info("Training %s", run_name())
    choices = _choices(cfg)

    def summary(status: str, test_metrics: dict, best_path: str, error: str | None = None):
        return {
            "status": status,
            "error": error,
            "run_name": run_name(),
            "model": choices.get("model", cfg.model.get("_target_", "?").rsplit(".", 1)[-1]),
            "loss": choices.get("loss", cfg.loss.get("_target_", "?").rsplit(".", 1)[-1]),
            "data": choices.get("data", cfg.data.get("dataset", "?")),
            "seed": cfg.get("seed"),
            "fold": cfg.data.get("fold") if cfg.data.get("num_folds") else None,
            "test": test_metrics,
            "best_val": history.best("val/iou"),
            "epochs": trainer.current_epoch,
            "global_steps": trainer.global_step,
            "wall_time_s": round(time.time() - start, 2),
            "parameters": sum(p.numel() for p in module.net.parameters()),
            "precision": str(trainer.precision),
            "accelerator": type(trainer.accelerator).__name__,
            "best_checkpoint": best_path or None,
            "split_sizes": {k: len(v) for k, v in datamodule.split.items()},
            "history": list(history.epochs),
            "collapsed": collapsed(history.epochs),
        }

    ckpt_path = cfg.get("ckpt_path")
    if cfg.get("resume") and ckpt_path is None:
        last = output_dir / "checkpoints" / "last.ckpt"
        ckpt_path = str(last) if last.is_file() else None
        log.info("Resuming from %s", ckpt_path or "scratch (no last.ckpt yet)")
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
        if trainer.interrupted:
            raise KeyboardInterrupt("training interrupted")
    except BaseException as exc:  # also Ctrl-C, which Lightning turns into SystemExit
        interrupted = isinstance(exc, KeyboardInterrupt | SystemExit)
        status = "interrupted" if interrupted else "failed"
        if interrupted:
            try:  # keep the weights of the moment; last.ckpt stays the last whole epoch
                trainer.save_checkpoint(output_dir / "checkpoints" / "interrupted.ckpt")
            except Exception as save_error:  # pragma: no cover - best effort only
                log.warning("could not save interrupted.ckpt: %s", save_error)
        best = best_checkpoint(trainer)
        write_json(
            output_dir / "metrics.json", summary(status, {}, best, f"{type(exc).__name__}: {exc}")
        )
        log.error("Run %s (%s); wrote %s", status, exc, output_dir / "metrics.json")
        raise

    # Testing from a checkpoint restores callback state too: keep the full history first.
    epochs_seen = list(history.epochs)
    test_metrics: dict[str, float] = {}
    best_path = best_checkpoint(trainer)
    if cfg.get("test", True) and "test" in datamodule.datasets:
        results = trainer.test(
            module, datamodule=datamodule, ckpt_path=best_path or None, weights_only=False
        )
        test_metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
    history.epochs = epochs_seen
    calibration = cfg.get("calibration") or {}
    wanted = calibration.get("select_threshold") or calibration.get("full_resolution_test")
    if best_path and wanted:
        test_metrics.update(
            calibrate_and_score(
                Path(best_path),
                datamodule,
                output_dir,
                select_threshold=bool(calibration.get("select_threshold")),
                thresholds=list(calibration.get("thresholds") or []),
                score_test=bool(calibration.get("full_resolution_test")),
            )
        )
    metrics = summary("completed", test_metrics, best_path)
    write_json(output_dir / "metrics.json", metrics)
    log.info("Wrote %s", output_dir / "metrics.json")
    if metrics["collapsed"]:
        log.warning("Validation collapsed: %s", metrics["collapsed"])
    return metrics
