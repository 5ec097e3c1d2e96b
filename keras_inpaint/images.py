"""Pixel-range conversions and input checks shared by every entry point.

Models work on float32 pixels in [-1, 1] and masks with 1 = hole; users bring
uint8 photographs and masks drawn as white-on-black images. These helpers
convert at the edges and turn bad input into errors that say what to do.

Example:
    >>> import numpy as np
    >>> from keras_inpaint import images
    >>> x = images.uint8_to_model(np.full((1, 4, 4, 3), 255, np.uint8))
    >>> float(x.max())
    1.0
"""

import numpy as np
import tensorflow as tf


def uint8_to_model(image):
    """Map uint8 pixels [0, 255] to float32 [-1, 1] (works on numpy or tensors)."""
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def model_to_uint8(image):
    """Map float pixels in [-1, 1] to uint8 [0, 255], rounding and clipping."""
    scaled = (tf.clip_by_value(tf.cast(image, tf.float32), -1.0, 1.0) + 1.0) * 127.5
    return tf.cast(tf.round(scaled), tf.uint8)


def binarize_mask(mask):
    """Any mask (bool, 0/1, 0/255, one or more channels) -> float32 `(..., 1)`, 1 = hole.

    A pixel is a hole where any channel is nonzero.
    """
    mask = tf.convert_to_tensor(mask)
    hole = tf.reduce_any(tf.not_equal(mask, tf.zeros((), mask.dtype)), axis=-1, keepdims=True)
    return tf.cast(hole, tf.float32)


def check_image_and_mask(image, mask, where="input"):
    """Validate a batch of images `(B, H, W, 3)` and masks `(B, H, W, 1)`.

    Works on anything with a static `.shape` (numpy arrays, eager tensors).
    Raises ValueError naming the problem and the fix.
    """
    image_shape, mask_shape = tuple(np.shape(image)), tuple(np.shape(mask))
    if len(image_shape) != 4:
        raise ValueError(
            f"{where}: the image batch has shape {image_shape}; expected (batch, height, "
            "width, 3). Add a batch axis with image[None] for a single image."
        )
    if image_shape[-1] != 3:
        raise ValueError(
            f"{where}: the image has {image_shape[-1]} channels; expected 3 (RGB). Convert "
            "grayscale or RGBA images to RGB first, e.g. PIL's image.convert('RGB')."
        )
    if len(mask_shape) != 4 or mask_shape[-1] != 1:
        raise ValueError(
            f"{where}: the mask batch has shape {mask_shape}; expected (batch, height, "
            "width, 1) with 1 = hole. Use images.binarize_mask to collapse channels."
        )
    if image_shape[1:3] != mask_shape[1:3]:
        raise ValueError(
            f"{where}: the mask is {mask_shape[1]}x{mask_shape[2]} but the image is "
            f"{image_shape[1]}x{image_shape[2]}; resize the mask to the image size "
            "(nearest neighbour) or crop both alike."
        )
    if image_shape[0] != mask_shape[0]:
        raise ValueError(
            f"{where}: {image_shape[0]} images but {mask_shape[0]} masks; give one mask per image."
        )
