"""Partial-convolution UNet (Liu et al., ECCV 2018): generator, training wrapper, weight loading."""

from keras_inpaint.models.pconv_unet.broadcast_channels import BroadcastChannels
from keras_inpaint.models.pconv_unet.initial_weights import load_generator_weights
from keras_inpaint.models.pconv_unet.pconv_inpainter import PConvInpainter
from keras_inpaint.models.pconv_unet.pconv_unet import PRESETS, PConvUNet

__all__ = ["PRESETS", "BroadcastChannels", "PConvInpainter", "PConvUNet", "load_generator_weights"]
