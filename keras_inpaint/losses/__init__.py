"""Losses of the zoo's papers, written with `keras.ops`; each returns a scalar batch mean."""

from keras_inpaint.losses.adversarial import (
    discriminator_bce,
    discriminator_hinge,
    generator_bce,
    generator_hinge,
    generator_minimax_bce,
)
from keras_inpaint.losses.reconstruction import hole_l1, masked_l2, total_variation, valid_l1

__all__ = [
    "discriminator_bce",
    "discriminator_hinge",
    "generator_bce",
    "generator_hinge",
    "generator_minimax_bce",
    "hole_l1",
    "masked_l2",
    "total_variation",
    "valid_l1",
]
