"""skinseg: an experiment framework for skin-lesion segmentation in dermoscopic images.

The Python API (docs/python_api.md): ``load_model`` returns a model whose ``predict(image)`` is
the image's lesion mask; ``read_image`` reads a file as every skinseg command does. They are
imported on first use, so that ``import skinseg`` stays light.
"""

__version__ = "0.1.0"

_API = {
    "load_model": "skinseg.inference.model",
    "Model": "skinseg.inference.model",
    "read_image": "skinseg.data.io",
}
__all__ = ["Model", "load_model", "read_image"]


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'skinseg' has no attribute {name!r}")
