"""Dermoscopy datasets in their authors' layouts, checked, cached and split."""

from skinseg.data.datamodule import DATASETS, SkinLesionDataModule
from skinseg.data.errors import DataValidationError
from skinseg.data.layouts import Catalog, Sample, find_folder, find_isic, find_ph2

__all__ = [
    "DATASETS",
    "Catalog",
    "DataValidationError",
    "Sample",
    "SkinLesionDataModule",
    "find_folder",
    "find_isic",
    "find_ph2",
]
