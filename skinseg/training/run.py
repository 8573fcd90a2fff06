"""The training pipeline behind ``train.py``: data, model, trainer, fit, test, metrics.json.

:func:`train` reads as its steps; each step is a short function of its own.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.errors import InstantiationException
from lightning.pytorch.callbacks import LearningRateMonitor
from omegaconf import DictConfig, OmegaConf

from skinseg.atomic import write_json
from skinseg.data import SkinLesionDataModule
from skinseg.hardware import training_channels_last, training_precision
from skinseg.metrics import METRIC_NAMES
from skinseg.recipe import Recipe
from skinseg.training.calibrate import calibrate_and_score
from skinseg.training.checkpoint_io import AtomicCheckpointIO
from skinseg.training.errors import ConfigError
from skinseg.training.history import MetricsHistory, collapsed
from skinseg.training.init_from import load_initial_weights
from skinseg.training.module import SegmentationModule
from skinseg.training.provenance import environment
from skinseg.training.trackers import log_best_checkpoint, log_config

log = logging.getLogger(__name__)


# What ``optimized_metric`` may name: a validation scalar, or its best value so far.
VALIDATION_METRICS = ("val/loss", *(f"val/{name}" for name in METRIC_NAMES))


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
        instantiate(node, key)
        for key, node in section.items()
        if isinstance(node, DictConfig) and "_target_" in node
    ]


def instantiate(node: DictConfig, key: str):
    """``hydra.utils.instantiate``; a missing optional package becomes one :class:`ConfigError`
    line naming what to install.

    Raises:
        ConfigError: ``node`` needs a package that is not installed (an optional extra).
    """
    try:
        return hydra.utils.instantiate(node)
    except InstantiationException as exc:
        if isinstance(exc.__cause__, ImportError):
            raise ConfigError(f"{key}: {exc.__cause__}") from exc
        raise


def best_checkpoint(trainer: L.Trainer) -> str:
    """Path of the best checkpoint of the first monitored ModelCheckpoint ('' if none)."""
    monitored = [c for c in trainer.checkpoint_callbacks if getattr(c, "monitor", None)]
    return monitored[0].best_model_path if monitored else ""


# ------------------------------------------------------------------------------------ steps
def check_optimized_metric(name: str) -> str:
    """The validation scalar behind ``optimized_metric`` (``val/iou_best`` -> ``val/iou``).

    Raises:
        ConfigError: ``name`` is not a metric the run logs.
    """
    metric = name.removesuffix("_best")
    if metric not in VALIDATION_METRICS:
        known = [*VALIDATION_METRICS, *(f"{m}_best" for m in VALIDATION_METRICS)]
        raise ConfigError(
            f"optimized_metric {name!r} is not a logged metric; expected one of {known}"
        )
    return metric


def optimized_value(metrics: dict, name: str) -> float:
    """The value a sweeper optimises: ``name`` in the best validation epoch of ``metrics``.

    Raises:
        ValueError: the run has no such value (e.g. it never validated).
    """
    value = metrics.get("best_val", {}).get(check_optimized_metric(name))
    if value is None:
        raise ValueError(
            f"optimized_metric {name!r}: the run recorded no value for it "
            f"(best validation epoch: {metrics.get('best_val') or 'none'})"
        )
    return float(value)


def completed_before(output_dir: Path) -> dict | None:
    """The ``metrics.json`` of an earlier run in ``output_dir`` that completed, else None."""
    done = output_dir / "metrics.json"
    if not done.is_file():
        return None
    previous = json.loads(done.read_text(encoding="utf-8"))
    return previous if previous.get("status") == "completed" else None


def build_datamodule(cfg: DictConfig, output_dir: Path) -> SkinLesionDataModule:
    """The DataModule the config names, its split written to ``split.json`` (not set up).

    Raises:
        ConfigError: a data option the DataModule or its layout refuses.
    """
    try:
        return hydra.utils.instantiate(
            cfg.data, split_output=str(output_dir / "split.json"), _convert_="all"
        )
    except InstantiationException as exc:
        cause = exc.__cause__
        if isinstance(cause, TypeError | ValueError):
            raise ConfigError(f"config 'data': {cause}") from exc
        raise


def build_recipe(cfg: DictConfig, datamodule: SkinLesionDataModule) -> Recipe:
    """The prediction recipe: size and normalisation from the data, the rest from ``recipe``.

    Raises:
        ConfigError: an unknown recipe key (a typo such as ``fill_hole``) or a bad value.
    """
    options = OmegaConf.to_container(cfg.get("recipe") or {}, resolve=True)
    try:
        return Recipe.from_dict({**datamodule.recipe(), **options})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config 'recipe': {exc}") from exc


def resolved_precision(cfg: DictConfig) -> str:
    """``trainer.precision``, with ``auto`` turned into what is faster on this machine (the
    probe is cached, so asking twice measures once)."""
    precision = cfg.trainer.get("precision")
    if precision == "auto":
        precision = training_precision(str(cfg.trainer.get("accelerator", "auto")))
    return str(precision)


def build_module(cfg: DictConfig, recipe: Recipe) -> SegmentationModule:
    """The LightningModule with the net, loss, optimizer and scheduler the config names."""
    net = instantiate(cfg.model, "model")
    loss = hydra.utils.instantiate(cfg.loss)
    optimizer = hydra.utils.instantiate(cfg.optimizer)
    scheduler = hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    options = OmegaConf.to_container(cfg.get("module", {}), resolve=True)
    if options.get("channels_last") == "auto":
        accelerator = str(cfg.trainer.get("accelerator", "auto"))
        options["channels_last"] = training_channels_last(accelerator, resolved_precision(cfg))
        log.info(
            "module.channels_last=auto: %s, the faster on this machine",
            "channels-last" if options["channels_last"] else "contiguous (NCHW)",
        )
    return SegmentationModule(
        net=net,
        loss=loss,
        optimizer=optimizer,
        scheduler=scheduler,
        net_config=OmegaConf.to_container(cfg.model, resolve=True),
        recipe=recipe,
        **options,
    )


def build_trainer(cfg: DictConfig, history: MetricsHistory) -> L.Trainer:
    """The Trainer with the config's callbacks and loggers, and ``history`` recording."""
    callbacks = [*instantiate_dict(cfg.get("callbacks")), history]
    loggers = instantiate_dict(cfg.get("logger"))
    if not loggers:  # a learning-rate monitor without a logger is an error in Lightning
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    precision = resolved_precision(cfg)
    if cfg.trainer.get("precision") == "auto":
        log.info("trainer.precision=auto: %s, the faster on this machine", precision)
    return hydra.utils.instantiate(
        cfg.trainer,
        precision=precision,
        callbacks=callbacks,
        logger=loggers or False,
        plugins=[AtomicCheckpointIO()],
    )


@dataclass
class Run:
    """One training run's parts, and what ``metrics.json`` says of them."""

    cfg: DictConfig
    output_dir: Path
    datamodule: SkinLesionDataModule
    module: SegmentationModule
    trainer: L.Trainer
    history: MetricsHistory
    start: float = field(default_factory=time.time)

    def summary(self, status: str, test_metrics: dict, error: str | None = None) -> dict:
        cfg, choices = self.cfg, _choices(self.cfg)
        best_path = best_checkpoint(self.trainer)
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
            "best_val": self.history.best("val/iou"),
            "epochs": self.trainer.current_epoch,
            "global_steps": self.trainer.global_step,
            "wall_time_s": round(time.time() - self.start, 2),
            "parameters": sum(p.numel() for p in self.module.net.parameters()),
            "precision": str(self.trainer.precision),
            "accelerator": type(self.trainer.accelerator).__name__,
            "best_checkpoint": best_path or None,
            "init_from": self.module.init_from,
            "split_sizes": {k: len(v) for k, v in self.datamodule.split.items()},
            "history": list(self.history.epochs),
            "collapsed": collapsed(self.history.epochs),
        }

    def write(self, metrics: dict) -> dict:
        write_json(self.output_dir / "metrics.json", metrics)
        return metrics


def resume_path(cfg: DictConfig, output_dir: Path) -> str | None:
    """``ckpt_path``, or with ``resume=true`` the run directory's ``last.ckpt`` if any."""
    ckpt_path = cfg.get("ckpt_path")
    if cfg.get("resume") and ckpt_path is None:
        last = output_dir / "checkpoints" / "last.ckpt"
        ckpt_path = str(last) if last.is_file() else None
        log.info("Resuming from %s", ckpt_path or "scratch (no last.ckpt yet)")
    return ckpt_path


def fit(run: Run, ckpt_path: str | None) -> None:
    """``trainer.fit``; a failure or Ctrl-C is recorded in ``metrics.json``, then re-raised.

    After Ctrl-C the weights of the moment go to ``interrupted.ckpt``; ``last.ckpt`` stays the
    last whole epoch.
    """
    try:
        run.trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=ckpt_path)
        if run.trainer.interrupted:
            raise KeyboardInterrupt("training interrupted")
    except BaseException as exc:  # also Ctrl-C, which Lightning turns into SystemExit
        interrupted = isinstance(exc, KeyboardInterrupt | SystemExit)
        status = "interrupted" if interrupted else "failed"
        if interrupted:
            try:
                run.trainer.save_checkpoint(run.output_dir / "checkpoints" / "interrupted.ckpt")
            except Exception as save_error:  # pragma: no cover - best effort only
                log.warning("could not save interrupted.ckpt: %s", save_error)
        run.write(run.summary(status, {}, f"{type(exc).__name__}: {exc}"))
        log.error("Run %s (%s); wrote %s", status, exc, run.output_dir / "metrics.json")
        raise


def test_best(run: Run) -> dict[str, float]:
    """Test metrics of the best checkpoint at the training resolution (if there is a test
    split and ``test`` is on)."""
    best_path = best_checkpoint(run.trainer)
    if not run.cfg.get("test", True) or "test" not in run.datamodule.datasets:
        return {}
    results = run.trainer.test(
        run.module, datamodule=run.datamodule, ckpt_path=best_path or None, weights_only=False
    )
    return {k: float(v) for k, v in (results[0] if results else {}).items()}


def calibrate(run: Run) -> dict:
    """Threshold choice and full-resolution test scores of the best checkpoint, as the
    ``calibration`` config asks (nothing when it asks for neither)."""
    calibration = run.cfg.get("calibration") or {}
    best_path = best_checkpoint(run.trainer)
    wanted = calibration.get("select_threshold") or calibration.get("full_resolution_test")
    if not best_path or not wanted:
        return {}
    return calibrate_and_score(
        Path(best_path),
        run.datamodule,
        run.output_dir,
        select_threshold=bool(calibration.get("select_threshold")),
        thresholds=list(calibration.get("thresholds") or []),
        score_test=bool(calibration.get("full_resolution_test")),
    )


# ---------------------------------------------------------------------------------- train
def train(cfg: DictConfig) -> dict:
    """Fit, test the best checkpoint, write ``metrics.json``; return its contents."""
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if cfg.get("resume") and (previous := completed_before(output_dir)):
        log.info("%s: already completed, skipped (resume=true)", output_dir)
        return previous
    start = time.time()
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    torch.set_float32_matmul_precision("high")
    # A config error fails here, before anything is read or written.
    check_optimized_metric(cfg.get("optimized_metric") or "val/iou_best")
    datamodule = build_datamodule(cfg, output_dir)
    recipe = build_recipe(cfg, datamodule)

    write_json(output_dir / "environment.json", environment(Path(__file__).resolve().parent))
    datamodule.setup("fit")  # bad data fails now, before anything else is built
    module = build_module(cfg, recipe)
    if cfg.get("init_from"):  # a new run from another's weights; another architecture stops here
        strict = bool(cfg.get("init_from_strict", True))
        module.init_from = load_initial_weights(module.net, cfg.init_from, strict)
    history = MetricsHistory()
    run = Run(cfg, output_dir, datamodule, module, build_trainer(cfg, history), history, start)
    log_config(run.trainer.loggers, cfg, output_dir)

    log.info("Training %s", run_name())
    fit(run, resume_path(cfg, output_dir))
    test_metrics = test_best(run)
    test_metrics.update(calibrate(run))
    metrics = run.write(run.summary("completed", test_metrics))
    log.info("Wrote %s", output_dir / "metrics.json")
    log_best_checkpoint(run.trainer.loggers, metrics["best_checkpoint"])
    if metrics["collapsed"]:
        log.warning("Validation collapsed: %s", metrics["collapsed"])
    return metrics
