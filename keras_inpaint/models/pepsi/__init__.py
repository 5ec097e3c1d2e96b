"""PEPSI (Sagong et al., CVPR 2019) and Diet-PEPSI: generator, RED, training wrapper."""

from keras_inpaint.models.pepsi.cell_wise_dense import CellWiseDense
from keras_inpaint.models.pepsi.pepsi_generator import PEPSIGenerator
from keras_inpaint.models.pepsi.pepsi_inpainter import PEPSIInpainter
from keras_inpaint.models.pepsi.red_discriminator import REDDiscriminator

__all__ = ["CellWiseDense", "PEPSIGenerator", "PEPSIInpainter", "REDDiscriminator"]
