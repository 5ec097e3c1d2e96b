"""GLCIC (Iizuka et al., SIGGRAPH 2017): completion network, global + local critic, wrapper."""

from keras_inpaint.models.glcic.glcic_discriminator import GLCICDiscriminator
from keras_inpaint.models.glcic.glcic_generator import GLCICGenerator
from keras_inpaint.models.glcic.glcic_inpainter import GLCICInpainter
from keras_inpaint.models.glcic.hole_centered_crop import HoleCenteredCrop

__all__ = ["GLCICDiscriminator", "GLCICGenerator", "GLCICInpainter", "HoleCenteredCrop"]
