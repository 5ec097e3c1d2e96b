"""Recipes and the training run behind `keras-inpaint train`."""

from keras_inpaint.training.recipes import (
    DEFAULT_RECIPE,
    build_inpainter,
    build_networks,
    load_recipe,
    validate_recipe,
)
from keras_inpaint.training.trainer import TrainingDivergedError, evaluate_heldout, train

__all__ = [
    "DEFAULT_RECIPE",
    "TrainingDivergedError",
    "build_inpainter",
    "build_networks",
    "evaluate_heldout",
    "load_recipe",
    "train",
    "validate_recipe",
]
