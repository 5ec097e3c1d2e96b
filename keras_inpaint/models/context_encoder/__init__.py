"""Context Encoders (Pathak et al., CVPR 2016): generator, DCGAN discriminator, training wrapper."""

from keras_inpaint.models.context_encoder.context_encoder_generator import (
    ContextEncoderGenerator,
)
from keras_inpaint.models.context_encoder.context_encoder_inpainter import (
    ContextEncoderInpainter,
)
from keras_inpaint.models.context_encoder.dcgan_discriminator import DCGANDiscriminator

__all__ = ["ContextEncoderGenerator", "ContextEncoderInpainter", "DCGANDiscriminator"]
