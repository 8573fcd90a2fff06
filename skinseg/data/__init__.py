"""Dermoscopy datasets in their authors' layouts, checked, cached and split."""

from skinseg.data.datamodule import DATASETS, SkinLesionDataModule
from skinseg.data.errors import DataValidationError
from skinseg.data.layouts import (
    LAYOUTS,
    Catalog,
    GeneratedSample,
    Layout,
    Sample,
    find_folder,
    find_isic,
    find_ph2,
    find_synthetic,
    get_layout,
)
from skinseg.data.multisource import MultiSourceDataModule

__all__ = [
    "DATASETS",
    "LAYOUTS",
    "Catalog",
    "DataValidationError",
    "GeneratedSample",
    "Layout",
    "MultiSourceDataModule",
    "Sample",
    "SkinLesionDataModule",
    "find_folder",
    "find_isic",
    "find_ph2",
    "find_synthetic",
    "get_layout",
]
