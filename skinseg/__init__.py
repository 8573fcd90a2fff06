"""skinseg: an experiment framework for skin-lesion segmentation in dermoscopic images."""

__version__ = "0.1.0"
