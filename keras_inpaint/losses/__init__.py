"""Losses of the zoo's papers, written with `keras.ops`; each loss returns a scalar batch mean.

`VGG16Features` computes the VGG16 feature maps that `perceptual_loss` and `style_loss` compare.
"""

from keras_inpaint.losses.adversarial import (
    discriminator_bce,
    discriminator_hinge,
    generator_bce,
    generator_hinge,
    generator_minimax_bce,
)
from keras_inpaint.losses.perceptual import (
    VGG16Features,
    gram_matrix,
    perceptual_loss,
    style_loss,
    vgg16_preprocess,
)
from keras_inpaint.losses.reconstruction import (
    hole_l1,
    hole_log_l2,
    inner_band_weights,
    masked_l2,
    total_variation,
    valid_l1,
    weighted_l2,
)

__all__ = [
    "VGG16Features",
    "discriminator_bce",
    "discriminator_hinge",
    "generator_bce",
    "generator_hinge",
    "generator_minimax_bce",
    "gram_matrix",
    "hole_l1",
    "hole_log_l2",
    "inner_band_weights",
    "masked_l2",
    "perceptual_loss",
    "style_loss",
    "total_variation",
    "valid_l1",
    "vgg16_preprocess",
    "weighted_l2",
]
