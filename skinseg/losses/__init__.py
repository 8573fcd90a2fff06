"""Losses for binary segmentation: BCE, Dice, Focal and weighted combinations."""

from skinseg.losses.modules import BCELoss, ComboLoss, DiceLoss, FocalLoss

__all__ = ["BCELoss", "ComboLoss", "DiceLoss", "FocalLoss"]
