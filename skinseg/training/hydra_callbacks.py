"""Hydra callbacks: the sweep report at the end of every multirun."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class MultirunReport(Callback):
    """Runs ``skinseg report`` on the sweep directory when a multirun ends and prints it."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from skinseg.report import write_report

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            table = write_report(sweep_dir)
        except (FileNotFoundError, ValueError) as exc:
            log.warning("No sweep report: %s", exc)
            return
        print(f"\nResults of {sweep_dir} (also in results.md, results.csv and two PNGs):\n")
        print(table)
