"""Pixel reconstruction losses of the zoo: masked L2, hole / valid L1, total variation.

Every function takes pixels in [-1, 1] and masks `(B, H, W, 1)` with 1 = hole,
is written with `keras.ops` (so it runs inside any `train_step`, eager or in a
`tf.function`) and returns a scalar: the mean of per-image losses over the
batch. Inputs are cast to float32 so that mixed-precision models accumulate
their losses in full precision.

Example:
    >>> import numpy as np
    >>> from keras_inpaint.losses import hole_l1
    >>> y = np.zeros((1, 4, 4, 3), np.float32)
    >>> mask = np.zeros((1, 4, 4, 1), np.float32)
    >>> mask[:, :2] = 1.0
    >>> float(hole_l1(y, y + 0.5, mask, normalize="region"))
    0.5
"""

import math

from keras import ops

NORMALIZATIONS = ("image", "region")


def _as_float32(*tensors):
    return [ops.cast(ops.convert_to_tensor(t), "float32") for t in tensors]


def _dilate(mask, radius):
    """Grow the hole by `radius` pixels (a square max filter of side 2*radius + 1)."""
    size = 2 * radius + 1
    return ops.max_pool(mask, pool_size=size, strides=1, padding="same")


def _erode(mask, radius):
    """Shrink the hole by `radius` pixels (the image border counts as hole)."""
    return 1.0 - _dilate(1.0 - mask, radius)


def _per_image_sum(x):
    return ops.sum(x, axis=(1, 2, 3))


def inner_band_weights(mask, band_width, band_weight):
    """Per-pixel weights: 1 in the hole, `band_weight` on its `band_width`-px inner border.

    Seed 004's reading of Context Encoders' overlap (Pathak et al., CVPR 2016,
    https://arxiv.org/abs/1604.07379): "a 7px wide area on the borders of the
    dropout region" weighs 10 times more, when the generator predicts exactly
    the hole. Known pixels weigh 0. Compute it on the whole image's mask: on a
    crop that the hole fills, the hole has no border left to find.

    Example:
        >>> import numpy as np
        >>> mask = np.zeros((1, 8, 8, 1), np.float32)
        >>> mask[:, 1:7, 1:7] = 1.0
        >>> weights = inner_band_weights(mask, 1, 10.0)
        >>> [float(weights[0, row, 3, 0]) for row in range(8)]
        [0.0, 10.0, 1.0, 1.0, 1.0, 1.0, 10.0, 0.0]
    """
    (mask,) = _as_float32(mask)
    band = mask * (1.0 - _erode(mask, band_width))
    return mask + (band_weight - 1.0) * band


def weighted_l2(y_true, y_pred, weights):
    """`mean_b [ sum(w * (y - p)^2) / (C * max(#{pixels: w > 0}, 1)) ]`: a weighted hole MSE.

    Example:
        >>> import numpy as np
        >>> y = np.zeros((1, 2, 2, 3), np.float32)
        >>> float(weighted_l2(y, y + 1.0, np.ones((1, 2, 2, 1), np.float32)))
        1.0
    """
    y_true, y_pred, weights = _as_float32(y_true, y_pred, weights)
    return ops.mean(_per_image_weighted_mse(y_true, y_pred, weights))


def masked_l2(y_true, y_pred, mask, overlap_width=4, overlap_weight=10.0):
    """Context Encoders' reconstruction loss: hole MSE plus a weighted overlap band.

    Pathak et al., "Context Encoders: Feature Learning by Inpainting", CVPR 2016,
    https://arxiv.org/abs/1604.07379. The generator also predicts a band of known
    pixels around the hole (the "overlap"), weighted more so that the fill
    blends with its border:

        band = dilate(M, overlap_width) * (1 - M)
        w    = M + overlap_weight * band
        L    = mean_b [ sum(w * (y - p)^2) / (C * max(#{pixels: w > 0}, 1)) ]

    where the dilation is a max filter of side `2 * overlap_width + 1`.
    `overlap_width=0` gives the plain mean squared error on the hole.

    The function is shape-agnostic: it also serves the center-region variant,
    where `y_true` and `y_pred` are the predicted region only (e.g. the 64x64
    center of a 128x128 image) and `mask` is cropped to that region, so the
    band is the known ring inside the region (the reference code's 4-px
    overlap of a 56x56 hole in a 64x64 region).

    Args:
        y_true: ground truth, `(B, H, W, C)` in [-1, 1].
        y_pred: prediction, same shape.
        mask: `(B, H, W, 1)`, 1 = hole.
        overlap_width: width in pixels of the known band around the hole that
            is also penalised (paper 7, reference code 4).
        overlap_weight: weight of the band relative to the hole (paper 10).

    Returns:
        Scalar float32 loss.

    Example:
        >>> import numpy as np
        >>> y = np.zeros((1, 8, 8, 3), np.float32)
        >>> mask = np.zeros((1, 8, 8, 1), np.float32)
        >>> mask[:, 3:5, 3:5] = 1.0
        >>> float(masked_l2(y, y + 1.0, mask, overlap_width=0))
        1.0
    """
    y_true, y_pred, mask = _as_float32(y_true, y_pred, mask)
    band = _dilate(mask, overlap_width) * (1.0 - mask)
    return ops.mean(_per_image_weighted_mse(y_true, y_pred, mask + overlap_weight * band))


def _per_image_weighted_mse(y_true, y_pred, weights):
    """`sum(w * (y - p)^2) / (C * max(#{pixels: w > 0}, 1))` for each image of the batch."""
    squared_error = _per_image_sum(weights * ops.square(y_true - y_pred))
    weighted_pixels = _per_image_sum(ops.cast(weights > 0.0, "float32"))
    channels = ops.cast(ops.shape(y_true)[-1], "float32")
    return squared_error / (channels * ops.maximum(weighted_pixels, 1.0))


def hole_log_l2(y_true, y_pred, mask, floor=1e-4):
    """Mean over images of log10 of each image's hole MSE: minus a tenth of its mean hole PSNR.

    The hole PSNR of an image is `10 * log10(4 / MSE)` for pixels in [-1, 1],
    so minimising `mean_b log10(MSE_b)` maximises the mean of per-image PSNRs,
    the figure inpainting benchmarks report; the plain MSE (`masked_l2`) is
    dominated by the images with the largest errors instead. The gradient of
    each image is its MSE's gradient divided by its MSE: every image weighs
    alike. Not in GLCIC's paper (which uses the MSE); the presets' option.

        L = mean_b log10( sum(M * (y - p)^2) / (C * max(sum(M), 1)) + floor )

    Args:
        y_true: ground truth, `(B, H, W, C)` in [-1, 1].
        y_pred: prediction, same shape.
        mask: `(B, H, W, 1)`, 1 = hole.
        floor: added to each MSE (1e-4: a 46 dB hole), so a perfect image does
            not pull the loss to minus infinity.

    Returns:
        Scalar float32 loss.

    Example:
        >>> import numpy as np
        >>> y = np.zeros((1, 8, 8, 3), np.float32)
        >>> mask = np.zeros((1, 8, 8, 1), np.float32)
        >>> mask[:, 3:5, 3:5] = 1.0
        >>> round(float(hole_log_l2(y, y + 0.1, mask, floor=0.0)), 4)
        -2.0
    """
    y_true, y_pred, mask = _as_float32(y_true, y_pred, mask)
    per_image = _per_image_weighted_mse(y_true, y_pred, mask)
    return ops.mean(ops.log(per_image + floor)) / math.log(10.0)


def _masked_l1(y_true, y_pred, region, normalize):
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    absolute_error = _per_image_sum(region * ops.abs(y_true - y_pred))
    channels = ops.cast(ops.shape(y_true)[-1], "float32")
    if normalize == "image":
        pixels = ops.cast(ops.shape(y_true)[1] * ops.shape(y_true)[2], "float32")
    else:
        # An image without a hole (or without known pixels) contributes 0, not NaN.
        pixels = ops.maximum(_per_image_sum(region), 1.0)
    return ops.mean(absolute_error / (channels * pixels))


def hole_l1(y_true, y_pred, mask, normalize="image"):
    """L1 error on the hole pixels (PConv's L_hole).

    Liu et al., "Image Inpainting for Irregular Holes Using Partial
    Convolutions", ECCV 2018, https://arxiv.org/abs/1804.07723:

        normalize="image":  L = mean_b [ sum(M * |y - p|) / (H * W * C) ]
        normalize="region": L = mean_b [ sum(M * |y - p|) / (C * sum(M)) ]

    "image" is the paper's size-averaged L_hole (its weight 6 assumes it);
    "region" is the mean error per hole pixel, 0 for an image without a hole.

    Args:
        y_true: ground truth, `(B, H, W, C)` in [-1, 1].
        y_pred: prediction, same shape.
        mask: `(B, H, W, 1)`, 1 = hole.
        normalize: "image" or "region", see above.

    Returns:
        Scalar float32 loss.

    Example:
        >>> import numpy as np
        >>> y = np.zeros((1, 4, 4, 3), np.float32)
        >>> mask = np.zeros((1, 4, 4, 1), np.float32)
        >>> mask[:, :2] = 1.0
        >>> float(hole_l1(y, y + 1.0, mask))
        0.5
    """
    y_true, y_pred, mask = _as_float32(y_true, y_pred, mask)
    return _masked_l1(y_true, y_pred, mask, normalize)


def valid_l1(y_true, y_pred, mask, normalize="image"):
    """L1 error on the known pixels (PConv's L_valid).

    Liu et al., ECCV 2018, https://arxiv.org/abs/1804.07723. Same as `hole_l1`
    with the region `1 - M`:

        normalize="image":  L = mean_b [ sum((1 - M) * |y - p|) / (H * W * C) ]
        normalize="region": L = mean_b [ sum((1 - M) * |y - p|) / (C * sum(1 - M)) ]

    Args:
        y_true: ground truth, `(B, H, W, C)` in [-1, 1].
        y_pred: prediction, same shape.
        mask: `(B, H, W, 1)`, 1 = hole.
        normalize: "image" or "region" (0 for an image that is all hole).

    Returns:
        Scalar float32 loss.

    Example:
        >>> import numpy as np
        >>> y = np.zeros((1, 4, 4, 3), np.float32)
        >>> mask = np.zeros((1, 4, 4, 1), np.float32)
        >>> mask[:, :1] = 1.0
        >>> float(valid_l1(y, y + 1.0, mask))
        0.75
    """
    y_true, y_pred, mask = _as_float32(y_true, y_pred, mask)
    return _masked_l1(y_true, y_pred, 1.0 - mask, normalize)


def total_variation(y_pred, mask=None):
    """Mean absolute difference between neighbouring pixels (PConv's L_tv).

    Liu et al., ECCV 2018, https://arxiv.org/abs/1804.07723. With a mask, only
    neighbour pairs that both lie in P, the hole dilated by one pixel, count:

        L = mean_b [ sum_{(i,j),(i+1,j) in P} |p[i+1,j] - p[i,j]| / ((H - 1) * W * C)
                   + sum_{(i,j),(i,j+1) in P} |p[i,j+1] - p[i,j]| / (H * (W - 1) * C) ]

    Pairs outside P count as zero, so the loss is size-averaged like
    `hole_l1(normalize="image")`. Without a mask every pair counts. PConv
    applies it to the composite image.

    Args:
        y_pred: images `(B, H, W, C)`.
        mask: optional `(B, H, W, 1)`, 1 = hole.

    Returns:
        Scalar float32 loss.

    Example:
        >>> import numpy as np
        >>> stripes = np.zeros((1, 4, 4, 1), np.float32)
        >>> stripes[:, :, 1::2] = 1.0
        >>> float(total_variation(stripes))
        1.0
    """
    (y_pred,) = _as_float32(y_pred)
    vertical = ops.abs(y_pred[:, 1:] - y_pred[:, :-1])
    horizontal = ops.abs(y_pred[:, :, 1:] - y_pred[:, :, :-1])
    if mask is not None:
        (mask,) = _as_float32(mask)
        region = _dilate(mask, 1)
        vertical = vertical * region[:, 1:] * region[:, :-1]
        horizontal = horizontal * region[:, :, 1:] * region[:, :, :-1]
    return ops.mean(vertical) + ops.mean(horizontal)
