"""Classical fills that every trained model is compared against.

Example:
    >>> import numpy as np
    >>> from keras_inpaint.baselines import mean_fill
    >>> image = np.zeros((1, 8, 8, 3), np.float32); mask = np.zeros((1, 8, 8, 1), np.float32)
    >>> mask[:, 2:4, 2:4] = 1
    >>> mean_fill(image * (1 - mask), mask).shape
    TensorShape([1, 8, 8, 3])
"""

import tensorflow as tf


def mean_fill(masked_image, mask):
    """Fill each image's hole with the per-channel mean of its known pixels.

    Args:
        masked_image: float `(B, H, W, 3)`; hole pixels are ignored.
        mask: float `(B, H, W, 1)`, 1 = hole.

    Returns:
        The composite `(B, H, W, 3)`: known pixels kept, hole = known mean
        (0 for an image with no known pixel).
    """
    known = 1.0 - mask
    known_sum = tf.reduce_sum(masked_image * known, axis=[1, 2], keepdims=True)
    known_count = tf.reduce_sum(known, axis=[1, 2], keepdims=True)
    mean = tf.math.divide_no_nan(known_sum, known_count)
    return masked_image * known + mean * mask
