"""Image-quality measures: per-image functions and Keras metrics averaging them."""

from keras_inpaint.metrics.image_quality import l1, l2, psnr, ssim, ssim_map
from keras_inpaint.metrics.image_quality_metrics import (
    PSNR,
    SSIM,
    MeanL1,
    MeanL2,
    image_quality_metrics,
)

__all__ = [
    "PSNR",
    "SSIM",
    "MeanL1",
    "MeanL2",
    "image_quality_metrics",
    "l1",
    "l2",
    "psnr",
    "ssim",
    "ssim_map",
]
