"""Reusable layers of keras-inpaint (all registered under the `keras_inpaint` package)."""

from keras_inpaint.layers.channel_wise_dense import ChannelWiseDense
from keras_inpaint.layers.hole_fill import HoleFill
from keras_inpaint.layers.residual_composite import ResidualComposite

__all__ = ["ChannelWiseDense", "HoleFill", "ResidualComposite"]
