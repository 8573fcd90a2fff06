"""Losses for binary segmentation: BCE, Dice, Focal, Lovasz hinge and weighted combinations."""

from skinseg.losses.modules import BCELoss, ComboLoss, DiceLoss, FocalLoss, LovaszHingeLoss

__all__ = ["BCELoss", "ComboLoss", "DiceLoss", "FocalLoss", "LovaszHingeLoss"]
