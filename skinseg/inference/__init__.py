"""Prediction, evaluation and export of trained models, without the training code."""

from skinseg.inference.loading import load_predictor
from skinseg.inference.predictor import Predictor

__all__ = ["Predictor", "load_predictor"]
