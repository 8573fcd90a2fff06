"""Train a lesion-segmentation model: python train.py model=segnet loss=focal [data=...]."""

import hydra
from omegaconf import DictConfig

import skinseg.training  # noqa: F401  (registers the config resolvers)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from skinseg.training.run import train

    metrics = train(cfg)
    value = metrics.get("best_val", {}).get(cfg.optimized_metric.replace("_best", ""))
    return value


if __name__ == "__main__":
    main()
