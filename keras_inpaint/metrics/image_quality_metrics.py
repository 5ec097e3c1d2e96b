"""Keras metrics averaging PSNR, SSIM, L1 and L2 over every image seen.

Each metric wraps one function of `image_quality.py`: `update_state` computes
the per-image values of a batch and adds them to a running mean over images
(not a mean of batch means, so batches of different sizes weigh by their
images). With `region="hole"` the values cover the hole pixels of the mask
passed to `update_state`; images without a hole have no hole value (NaN) and
are skipped.

Example:
    >>> import numpy as np
    >>> from keras_inpaint.metrics import PSNR
    >>> y = np.zeros((2, 16, 16, 3), np.float32)
    >>> mask = np.zeros((2, 16, 16, 1), np.float32)
    >>> mask[0, 4:12, 4:12] = 1.0  # the second image has no hole
    >>> metric = PSNR(region="hole")
    >>> metric.update_state(y, y + 0.2 * mask, mask=mask)
    >>> round(float(metric.result()), 2)
    20.0
"""

import keras
from keras import ops

from keras_inpaint.metrics import image_quality

REGIONS = ("image", "hole")


class _PerImageMean(keras.metrics.Metric):
    """Running mean of a per-image measure `(B,)`, skipping NaN values."""

    measure = None
    base_name = None

    def __init__(self, region="image", value_range=(-1.0, 1.0), name=None, dtype=None):
        if region not in REGIONS:
            raise ValueError(f"region must be one of {REGIONS}, got {region!r}")
        if name is None:
            name = self.base_name if region == "image" else f"hole_{self.base_name}"
        super().__init__(name=name, dtype=dtype)
        self.region = region
        self.value_range = tuple(float(v) for v in value_range)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, mask=None, sample_weight=None):
        if self.region == "hole" and mask is None:
            raise ValueError(
                f"metric {self.name!r} measures the hole: call update_state(y_true, "
                "y_pred, mask=mask) with the (B, H, W, 1) mask, 1 = hole."
            )
        region_mask = mask if self.region == "hole" else None
        values = self.measure(y_true, y_pred, region_mask, self.value_range)
        weights = ops.ones_like(values)
        if sample_weight is not None:
            weights = weights * ops.reshape(ops.cast(sample_weight, values.dtype), (-1,))
        seen = ops.logical_not(ops.isnan(values))
        weights = ops.where(seen, weights, 0.0)
        self.total.assign_add(ops.cast(ops.sum(ops.where(seen, values, 0.0) * weights), self.dtype))
        self.count.assign_add(ops.cast(ops.sum(weights), self.dtype))

    def result(self):
        # Like keras.metrics.Mean: 0 before any image (or any hole) was seen.
        return ops.divide_no_nan(self.total, self.count)

    def get_config(self):
        return {**super().get_config(), "region": self.region, "value_range": self.value_range}


@keras.saving.register_keras_serializable(package="keras_inpaint")
class PSNR(_PerImageMean):
    """Mean peak signal-to-noise ratio (dB, data range 1) over all images seen.

    Per-image values from `image_quality.psnr`; `region="hole"` uses the MSE
    of the hole pixels only.

    Args:
        region: "image" (the whole image) or "hole" (needs `mask` in
            `update_state`; images without a hole are skipped).
        value_range: (low, high) of the pixels, [-1, 1] in this project.
        name: metric name; default "psnr" or "hole_psnr".
        dtype: dtype of the metric's state.

    Example:
        >>> import numpy as np
        >>> metric = PSNR()
        >>> y = np.zeros((1, 16, 16, 3), np.float32)
        >>> metric.update_state(y, y + 0.2)
        >>> round(float(metric.result()), 2)
        20.0
    """

    measure = staticmethod(image_quality.psnr)
    base_name = "psnr"


@keras.saving.register_keras_serializable(package="keras_inpaint")
class SSIM(_PerImageMean):
    """Mean structural similarity (as tf.image.ssim, data range 1) over all images seen.

    Per-image values from `image_quality.ssim`; `region="hole"` averages the
    SSIM map over windows centred on hole pixels. Images must be at least
    11x11.

    Args:
        region: "image" or "hole" (needs `mask`; images without a hole window
            are skipped).
        value_range: (low, high) of the pixels, [-1, 1] in this project.
        name: metric name; default "ssim" or "hole_ssim".
        dtype: dtype of the metric's state.

    Example:
        >>> import numpy as np
        >>> metric = SSIM()
        >>> y = np.zeros((1, 16, 16, 3), np.float32)
        >>> metric.update_state(y, y)
        >>> float(metric.result())
        1.0
    """

    measure = staticmethod(image_quality.ssim)
    base_name = "ssim"


@keras.saving.register_keras_serializable(package="keras_inpaint")
class MeanL1(_PerImageMean):
    """Mean absolute error (pixels in [0, 1]) over all images seen.

    Per-image values from `image_quality.l1`.

    Args:
        region: "image" or "hole" (needs `mask`; images without a hole are
            skipped).
        value_range: (low, high) of the pixels, [-1, 1] in this project.
        name: metric name; default "l1" or "hole_l1".
        dtype: dtype of the metric's state.

    Example:
        >>> import numpy as np
        >>> metric = MeanL1()
        >>> y = np.zeros((1, 4, 4, 3), np.float32)
        >>> metric.update_state(y, y + 0.5)
        >>> float(metric.result())
        0.25
    """

    measure = staticmethod(image_quality.l1)
    base_name = "l1"


@keras.saving.register_keras_serializable(package="keras_inpaint")
class MeanL2(_PerImageMean):
    """Mean squared error (pixels in [0, 1]) over all images seen.

    Per-image values from `image_quality.l2`.

    Args:
        region: "image" or "hole" (needs `mask`; images without a hole are
            skipped).
        value_range: (low, high) of the pixels, [-1, 1] in this project.
        name: metric name; default "l2" or "hole_l2".
        dtype: dtype of the metric's state.

    Example:
        >>> import numpy as np
        >>> metric = MeanL2()
        >>> y = np.zeros((1, 4, 4, 3), np.float32)
        >>> metric.update_state(y, y + 0.5)
        >>> float(metric.result())
        0.0625
    """

    measure = staticmethod(image_quality.l2)
    base_name = "l2"


def image_quality_metrics(regions=REGIONS, value_range=(-1.0, 1.0)):
    """PSNR, SSIM, MeanL1 and MeanL2 for each region, in that order per region.

    Args:
        regions: any of "image", "hole".
        value_range: (low, high) of the pixels.

    Returns:
        A list of metrics, e.g. psnr, ssim, l1, l2, hole_psnr, hole_ssim,
        hole_l1, hole_l2 for the default regions.

    Example:
        >>> [m.name for m in image_quality_metrics(regions=("hole",))]
        ['hole_psnr', 'hole_ssim', 'hole_l1', 'hole_l2']
    """
    return [
        metric_class(region=region, value_range=value_range)
        for region in regions
        for metric_class in (PSNR, SSIM, MeanL1, MeanL2)
    ]
