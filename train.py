"""Train a lesion-segmentation model: python train.py model=segnet loss=focal [data=...]."""

import logging
import sys

import hydra
from omegaconf import DictConfig

import skinseg.training  # noqa: F401  (registers the config resolvers)

log = logging.getLogger("train")


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    from skinseg.data import DataValidationError
    from skinseg.training.run import ConfigError, optimized_value, train

    try:
        return optimized_value(train(cfg), cfg.optimized_metric)
    except (ConfigError, DataValidationError, FileNotFoundError) as exc:
        # The user's config or data: a message, not a traceback. Nothing was trained.
        log.error("error: %s", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
