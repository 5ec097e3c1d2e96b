"""Classical fills that every trained model is compared against.

`BASELINES` maps the names `keras-inpaint evaluate --baselines` takes to
uint8 batch functions: `mean` (known-pixel mean), `push_pull` (the pyramid
fill of `keras_inpaint.layers.push_pull`, the bar on real photographs),
`telea` and `ns` (OpenCV) and `biharmonic` (scikit-image).

Example:
    >>> import numpy as np
    >>> from keras_inpaint.baselines import mean_fill
    >>> image = np.zeros((1, 8, 8, 3), np.float32); mask = np.zeros((1, 8, 8, 1), np.float32)
    >>> mask[:, 2:4, 2:4] = 1
    >>> mean_fill(image * (1 - mask), mask).shape
    TensorShape([1, 8, 8, 3])
"""

import numpy as np
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


def _require_cv2():
    try:
        import cv2
    except ImportError:
        raise ImportError(
            "the Telea and Navier-Stokes baselines use OpenCV, which is not installed; "
            'install it with `python -m pip install -e ".[baselines]"` (or '
            "opencv-python-headless), or leave them out with --baselines mean."
        ) from None
    return cv2


def opencv_inpaint(image, mask, method="telea", radius=3):
    """OpenCV's classical inpainting on uint8 batches (`cv2.inpaint`, radius in pixels).

    Args:
        image: uint8 `(B, H, W, 3)`.
        mask: `(B, H, W, 1)`, nonzero = hole.
        method: `"telea"` (Telea 2004, fast marching) or `"ns"` (Navier-Stokes,
            Bertalmio et al. 2001).
        radius: the neighbourhood each filled pixel looks at.

    Returns:
        uint8 `(B, H, W, 3)` with known pixels unchanged.
    """
    cv2 = _require_cv2()
    flags = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
    if method not in flags:
        raise ValueError(f"unknown OpenCV inpainting method {method!r}; use 'telea' or 'ns'")
    image, mask = np.asarray(image, np.uint8), (np.asarray(mask) != 0).astype(np.uint8)
    return np.stack(
        [
            cv2.inpaint(one, hole[..., 0], radius, flags[method])
            for one, hole in zip(image, mask, strict=True)
        ]
    )


def mean_fill_uint8(image, mask):
    """`mean_fill` on uint8 batches (hole = nonzero mask), rounded back to uint8."""
    from keras_inpaint import images

    hole = images.binarize_mask(mask)
    filled = mean_fill(images.uint8_to_model(image) * (1.0 - hole), hole)
    return np.where(np.asarray(hole) > 0, images.model_to_uint8(filled).numpy(), image)


def push_pull_uint8(image, mask):
    """`push_pull_fill` on uint8 batches (hole = nonzero mask), rounded back to uint8."""
    from keras_inpaint import images
    from keras_inpaint.layers.push_pull import push_pull_fill

    hole = images.binarize_mask(mask)
    filled = push_pull_fill(images.uint8_to_model(image) * (1.0 - hole), hole)
    return np.where(np.asarray(hole) > 0, images.model_to_uint8(filled).numpy(), image)


def biharmonic_uint8(image, mask):
    """scikit-image's biharmonic inpainting (Damelin and Hoang 2018) on uint8 batches."""
    from skimage.restoration import inpaint_biharmonic

    image, hole = np.asarray(image, np.uint8), np.asarray(mask)[..., 0] != 0
    filled = [
        inpaint_biharmonic(one, one_hole, channel_axis=-1) if one_hole.any() else one / 255.0
        for one, one_hole in zip(image, hole, strict=True)
    ]
    filled = np.clip(np.round(np.stack(filled) * 255.0), 0, 255).astype(np.uint8)
    return np.where(hole[..., None], filled, image)


BASELINES = {
    "mean": mean_fill_uint8,
    "push_pull": push_pull_uint8,
    "biharmonic": biharmonic_uint8,
    "telea": lambda image, mask: opencv_inpaint(image, mask, "telea"),
    "ns": lambda image, mask: opencv_inpaint(image, mask, "ns"),
}
