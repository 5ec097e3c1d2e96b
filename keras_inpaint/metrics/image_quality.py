"""Per-image quality measures: PSNR, SSIM, mean L1 and L2, on the whole image or the hole.

Inputs are batches `(B, H, W, C)` in `value_range` (the project's [-1, 1] by
default), mapped to [0, 1] inside so that every value uses a data range of 1
(the convention of scikit-image's `data_range=1` and of the inpainting
literature's tables). Each function returns one value per image, shape `(B,)`.

With a mask `(B, H, W, 1)` (1 = hole) the measure covers the hole pixels only,
all channels included. An image whose hole is empty has no hole measure: its
value is NaN, which the Keras metrics of `image_quality_metrics.py` skip.

Example:
    >>> import numpy as np
    >>> from keras_inpaint.metrics import psnr
    >>> y = np.zeros((1, 16, 16, 3), np.float32)
    >>> round(float(psnr(y, y + 0.2)[0]), 2)  # MSE 0.01 in [0, 1] units
    20.0
"""

import tensorflow as tf

SSIM_FILTER_SIZE = 11
SSIM_FILTER_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _to_unit_range(image, value_range):
    low, high = value_range
    return (tf.cast(image, tf.float32) - low) / (high - low)


def _image_mean(values):
    return tf.reduce_mean(values, axis=[1, 2, 3])


def _hole_mean(values, mask):
    """Mean of `values` `(B, H, W, C)` over the hole pixels and channels; NaN if no hole."""
    mask = tf.cast(mask, tf.float32)
    total = tf.reduce_sum(values * mask, axis=[1, 2, 3])
    count = tf.reduce_sum(mask, axis=[1, 2, 3]) * tf.cast(tf.shape(values)[-1], tf.float32)
    return tf.where(count > 0.0, total / tf.maximum(count, 1.0), float("nan"))


def _region_mean(values, mask):
    return _image_mean(values) if mask is None else _hole_mean(values, mask)


def l1(y_true, y_pred, mask=None, value_range=(-1.0, 1.0)):
    """Mean absolute error per image, in [0, 1] pixel units.

    Args:
        y_true: ground truth `(B, H, W, C)` in `value_range`.
        y_pred: prediction, same shape.
        mask: optional `(B, H, W, 1)`, 1 = hole: average over the hole only
            (NaN for an image without a hole).
        value_range: (low, high) of the input pixels.

    Returns:
        float32 tensor `(B,)`.

    Example:
        >>> import numpy as np
        >>> y = np.zeros((2, 4, 4, 3), np.float32)
        >>> l1(y, y + 0.5).numpy().tolist()
        [0.25, 0.25]
    """
    error = tf.abs(_to_unit_range(y_true, value_range) - _to_unit_range(y_pred, value_range))
    return _region_mean(error, mask)


def l2(y_true, y_pred, mask=None, value_range=(-1.0, 1.0)):
    """Mean squared error per image, in [0, 1] pixel units.

    Args:
        y_true: ground truth `(B, H, W, C)` in `value_range`.
        y_pred: prediction, same shape.
        mask: optional `(B, H, W, 1)`, 1 = hole: average over the hole only
            (NaN for an image without a hole).
        value_range: (low, high) of the input pixels.

    Returns:
        float32 tensor `(B,)`.

    Example:
        >>> import numpy as np
        >>> y = np.zeros((2, 4, 4, 3), np.float32)
        >>> l2(y, y + 0.5).numpy().tolist()
        [0.0625, 0.0625]
    """
    error = tf.square(_to_unit_range(y_true, value_range) - _to_unit_range(y_pred, value_range))
    return _region_mean(error, mask)


def psnr(y_true, y_pred, mask=None, value_range=(-1.0, 1.0)):
    """Peak signal-to-noise ratio per image, 10 * log10(1 / MSE), data range 1.

    Equals `skimage.metrics.peak_signal_noise_ratio(t, p, data_range=1)` on
    the [0, 1] images. With a mask the MSE covers the hole pixels only
    (all channels), the usual "hole PSNR" of inpainting papers. Identical
    images give +inf; an image without a hole gives NaN when a mask is given.

    Args:
        y_true: ground truth `(B, H, W, C)` in `value_range`.
        y_pred: prediction, same shape.
        mask: optional `(B, H, W, 1)`, 1 = hole.
        value_range: (low, high) of the input pixels.

    Returns:
        float32 tensor `(B,)`, in dB.

    Example:
        >>> import numpy as np
        >>> y = np.zeros((1, 4, 4, 3), np.float32)
        >>> mask = np.zeros((1, 4, 4, 1), np.float32)
        >>> mask[:, :2] = 1.0
        >>> prediction = y + 0.2 * mask  # errors only in the hole
        >>> round(float(psnr(y, prediction, mask)[0]), 2)
        20.0
    """
    mse = l2(y_true, y_pred, mask, value_range)
    # log10(1 / mse); mse = 0 gives +inf, NaN (no hole) stays NaN.
    return -10.0 * tf.math.log(mse) / tf.math.log(10.0)


def _gaussian_kernel(channels):
    """The normalised 11x11 Gaussian window of tf.image.ssim, as a depthwise kernel."""
    coords = tf.range(SSIM_FILTER_SIZE, dtype=tf.float32) - (SSIM_FILTER_SIZE - 1) / 2.0
    log_profile = -tf.square(coords) / (2.0 * SSIM_FILTER_SIGMA**2)
    # Normalised by a softmax over the 2-D log-window, as tf.image.ssim does: the
    # variance terms cancel catastrophically in float32, so a window rounded
    # differently would move SSIM by 1e-6 on smooth images.
    log_window = log_profile[:, None] + log_profile[None, :]
    window = tf.reshape(tf.nn.softmax(tf.reshape(log_window, [-1])), log_window.shape)
    return tf.tile(window[:, :, None, None], [1, 1, channels, 1])


def _check_ssim_size(image):
    height, width = image.shape[1], image.shape[2]
    if (height is not None and height < SSIM_FILTER_SIZE) or (
        width is not None and width < SSIM_FILTER_SIZE
    ):
        raise ValueError(
            f"SSIM needs images of at least {SSIM_FILTER_SIZE}x{SSIM_FILTER_SIZE} pixels "
            f"(its Gaussian window), got {height}x{width}; use PSNR or L1/L2 for smaller "
            "images or regions."
        )


def ssim_map(y_true, y_pred, value_range=(-1.0, 1.0)):
    """Local SSIM per channel, `(B, H - 10, W - 10, C)`: one value per full 11x11 window.

    Wang et al., "Image Quality Assessment: From Error Visibility to Structural
    Similarity", IEEE TIP 2004. The window is a Gaussian (11x11, sigma 1.5),
    K1 = 0.01, K2 = 0.03, biased (population) covariances and a valid
    convolution, exactly as `tf.image.ssim`; position (i, j) of the map is the
    window centred on pixel (i + 5, j + 5).

    Args:
        y_true: ground truth `(B, H, W, C)` in `value_range`, H and W >= 11.
        y_pred: prediction, same shape.
        value_range: (low, high) of the input pixels.

    Returns:
        float32 tensor `(B, H - 10, W - 10, C)`.

    Example:
        >>> import numpy as np
        >>> y = np.zeros((1, 16, 16, 3), np.float32)
        >>> ssim_map(y, y).shape
        TensorShape([1, 6, 6, 3])
    """
    x = _to_unit_range(y_true, value_range)
    y = _to_unit_range(y_pred, value_range)
    _check_ssim_size(x)
    kernel = _gaussian_kernel(x.shape[-1])

    def local_mean(image):
        return tf.nn.depthwise_conv2d(image, kernel, strides=[1, 1, 1, 1], padding="VALID")

    c1 = SSIM_K1**2
    c2 = SSIM_K2**2
    mean_x, mean_y = local_mean(x), local_mean(y)
    # Same arithmetic as tf.image.ssim so that the two agree to float32 rounding.
    mean_product = 2.0 * mean_x * mean_y
    mean_squares = tf.square(mean_x) + tf.square(mean_y)
    luminance = (mean_product + c1) / (mean_squares + c1)
    covariance = 2.0 * local_mean(x * y) - mean_product
    variances = local_mean(tf.square(x) + tf.square(y)) - mean_squares
    contrast_structure = (covariance + c2) / (variances + c2)
    return luminance * contrast_structure


def ssim(y_true, y_pred, mask=None, value_range=(-1.0, 1.0)):
    """Structural similarity per image (Gaussian window, as tf.image.ssim).

    Without a mask this is `tf.image.ssim(t, p, max_val=1.0)` on the [0, 1]
    images, and `skimage.metrics.structural_similarity(t, p, data_range=1,
    channel_axis=-1, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`: the mean of `ssim_map` over positions and
    channels. With a mask, the hole SSIM is the mean of the map over the
    windows whose centre pixel is a hole pixel (the mask cropped by 5 pixels
    on each side); NaN when no window is centred in the hole.

    Args:
        y_true: ground truth `(B, H, W, C)` in `value_range`, H and W >= 11.
        y_pred: prediction, same shape.
        mask: optional `(B, H, W, 1)`, 1 = hole.
        value_range: (low, high) of the input pixels.

    Returns:
        float32 tensor `(B,)`.

    Raises:
        ValueError: if the images are smaller than 11x11.

    Example:
        >>> import numpy as np
        >>> y = np.random.default_rng(0).uniform(-1, 1, (1, 16, 16, 3)).astype("float32")
        >>> float(ssim(y, y)[0])
        1.0
    """
    local_ssim = ssim_map(y_true, y_pred, value_range)
    if mask is None:
        return _image_mean(local_ssim)
    margin = SSIM_FILTER_SIZE // 2
    centres = tf.cast(mask, tf.float32)[:, margin:-margin, margin:-margin, :]
    return _hole_mean(local_ssim, centres)
