"""Reusable layers of keras-inpaint (all registered under the `keras_inpaint` package)."""

from keras_inpaint.layers.channel_wise_dense import ChannelWiseDense
from keras_inpaint.layers.contextual_attention import ContextualAttention
from keras_inpaint.layers.hole_fill import HoleFill
from keras_inpaint.layers.partial_conv2d import PartialConv2D
from keras_inpaint.layers.rate_adaptive_conv2d import RateAdaptiveConv2D
from keras_inpaint.layers.residual_composite import ResidualComposite

__all__ = [
    "ChannelWiseDense",
    "ContextualAttention",
    "HoleFill",
    "PartialConv2D",
    "RateAdaptiveConv2D",
    "ResidualComposite",
]
