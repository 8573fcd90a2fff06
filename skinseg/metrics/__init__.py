"""Segmentation metrics: dataset-level IoU and per-image ISIC-style scores."""

from skinseg.metrics.segmentation import METRIC_NAMES, IoU, PerImageScore, segmentation_metrics

__all__ = ["METRIC_NAMES", "IoU", "PerImageScore", "segmentation_metrics"]
