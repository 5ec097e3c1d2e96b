"""Pixel-range conversions and input checks shared by every entry point.

Models work on float32 pixels in [-1, 1] and masks with 1 = hole; users bring
uint8 photographs and masks drawn as white-on-black images. These helpers
convert at the edges and turn bad input into errors that say what to do.

The rules for arrays given to the Python API (`keras_inpaint.inference.Predictor`,
`model_inputs`):

- **Images** are `(batch, height, width, 3)`. uint8 is 0..255. Other integer
  types are accepted when every value is in 0..255. Floats are in [0, 1]
  (TensorFlow's convention, `tf.image.convert_image_dtype`) and are scaled by
  255 and rounded. A float image with values above 1 (0..255 floats) or below 0
  (the models' [-1, 1]) is refused with the conversion to use: it is never
  clipped into another picture. NaN or infinite pixels are refused.
- **Masks** are `(batch, height, width, 1)`: a pixel is a hole where the mask is
  nonzero, whatever the dtype (0/1, 0/255, bool, float), so 0/1 and 0/255 masks
  give the same hole. NaN or infinite values are refused.
- **Mask files** (PNG/JPEG/BMP) are white on black: a hole where the brightest
  channel is above 127 (robust to JPEG noise); a file whose values are all 0 or
  1 is a 0/1 mask, with a hole where it is 1 (`hole_from_mask_file`).

Example:
    >>> import numpy as np
    >>> from keras_inpaint import images
    >>> x = images.uint8_to_model(np.full((1, 4, 4, 3), 255, np.uint8))
    >>> float(x.numpy().max())
    1.0
    >>> int(images.as_uint8_images(np.full((1, 2, 2, 3), 0.5)).max())
    128
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


def hole_from_mask_file(pixels):
    """Decoded mask-file pixels `(..., C)` uint8 -> uint8 `(..., 1)` with 1 = hole.

    White on black: a hole where the brightest colour channel is above 127, so
    JPEG noise around the edges does not move the hole. A file whose values are
    all 0 or 1 is a 0/1 mask: a hole where it is 1 (such a file looks black but
    is not empty). The same rule as `keras_inpaint.data.masks.load_mask_file`.

    Example:
        >>> import numpy as np
        >>> hole_from_mask_file(np.array([[[0], [255]]], np.uint8))[..., 0].tolist()
        [[0, 1]]
        >>> hole_from_mask_file(np.array([[[0], [1]]], np.uint8))[..., 0].tolist()
        [[0, 1]]
    """
    pixels = np.asarray(pixels)
    # Alpha (the 2nd or 4th channel) says nothing about the hole.
    colour = pixels[..., :1] if pixels.shape[-1] <= 2 else pixels[..., :3]
    level = colour.max(axis=-1, keepdims=True)
    threshold = 0 if level.size and int(level.max()) <= 1 else 127
    return (level > threshold).astype(np.uint8)


def _values(array):
    # Values are only checked where they exist: numpy arrays and eager tensors,
    # not symbolic tensors while a function is traced.
    if isinstance(array, tf.Tensor) and not tf.executing_eagerly():
        return None
    try:
        return np.asarray(array)
    except (TypeError, ValueError, NotImplementedError):
        return None


def _check_numeric(values, what, where):
    if values.dtype == object or not (
        np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_
    ):
        raise ValueError(
            f"{where}: the {what} has dtype {values.dtype}; expected numbers (uint8 0..255 "
            "images, 0/1 or 0/255 masks). Decode files first, e.g. with "
            "keras_inpaint.inference.read_image_file."
        )
    if np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.complexfloating):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise ValueError(
                f"{where}: the {what} holds {bad} NaN or infinite value(s); every pixel must be "
                "a finite number. Find where they come from (a division by zero, a failed "
                "decode) or replace them, e.g. np.nan_to_num(x, nan=0.0)."
            )


def check_image_and_mask(image, mask, where="input"):
    """Validate a batch of images `(B, H, W, 3)` and masks `(B, H, W, 1)`.

    Shapes are checked on anything with a static `.shape`; dtypes and values
    (numbers only, no NaN or infinity) on numpy arrays and eager tensors.
    Raises ValueError naming the problem and the fix.

    Example:
        >>> import numpy as np
        >>> check_image_and_mask(np.zeros((1, 8, 8, 3)), np.zeros((1, 8, 8, 1)))
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
            f"{where}: the mask is {mask_shape[2]}x{mask_shape[1]} but the image is "
            f"{image_shape[2]}x{image_shape[1]} (width x height); resize the mask to the "
            "image size (nearest neighbour) or crop both alike."
        )
    if image_shape[0] != mask_shape[0]:
        raise ValueError(
            f"{where}: {image_shape[0]} images but {mask_shape[0]} masks; give one mask per image."
        )
    if 0 in image_shape[1:3]:
        raise ValueError(
            f"{where}: the image is empty ({image_shape[2]}x{image_shape[1]}, width x height)."
        )
    for what, array in (("image", image), ("mask", mask)):
        values = _values(array)
        if values is not None:
            _check_numeric(values, what, where)


def as_uint8_images(image, where="input"):
    """Images in any accepted dtype -> uint8 0..255 (the rule in the module docstring).

    uint8 passes unchanged; other integers must lie in 0..255; floats must lie
    in [0, 1] and are scaled by 255 and rounded. Anything else raises
    ValueError with the conversion to use.

    Example:
        >>> import numpy as np
        >>> as_uint8_images(np.array([[[[0.0, 0.5, 1.0]]]])).tolist()
        [[[[0, 128, 255]]]]
    """
    values = np.asarray(image)
    _check_numeric(values, "image", where)
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.bool_:
        raise ValueError(
            f"{where}: the image is boolean; images are uint8 0..255 or floats in [0, 1]."
        )
    if values.size == 0:
        return values.astype(np.uint8)
    low, high = values.min(), values.max()
    if np.issubdtype(values.dtype, np.integer):
        if low < 0 or high > 255:
            raise ValueError(
                f"{where}: the {values.dtype} image has values in [{low}, {high}]; expected "
                "0..255. Scale it to 8 bits first (for 16-bit images: image // 257)."
            )
        return values.astype(np.uint8)
    if low < 0:
        raise ValueError(
            f"{where}: the float image has values down to {float(low):.3g}; float images must "
            "be in [0, 1]. For the models' [-1, 1] range convert with "
            "keras_inpaint.images.model_to_uint8(image)."
        )
    if high > 1:
        raise ValueError(
            f"{where}: the float image has values up to {float(high):.3g}; float images must "
            "be in [0, 1]. For 0..255 floats use image.round().astype(np.uint8), or divide "
            "by 255."
        )
    return np.round(values.astype(np.float64) * 255.0).astype(np.uint8)


def as_hole_masks(mask, where="input"):
    """Masks in any numeric dtype -> uint8 0/1 with 1 = hole, wherever the mask is nonzero.

    Example:
        >>> import numpy as np
        >>> as_hole_masks(np.array([[[[0], [1], [255]]]], np.uint8))[..., 0].tolist()
        [[[0, 1, 1]]]
    """
    values = np.asarray(mask)
    _check_numeric(values, "mask", where)
    return (values != 0).astype(np.uint8)


def model_inputs(image, mask, where="input"):
    """Images (uint8, or floats in [0, 1]) and masks -> a model's `(masked_image, mask)`.

    Applies the module's rules and checks, then converts to the models'
    convention: float32 pixels in [-1, 1] with the hole zeroed and a float32
    0/1 mask. Calling `model(model_inputs(image, mask))` on an `Inpainter`
    gives the composite in [-1, 1].

    Example:
        >>> import numpy as np
        >>> masked, hole = model_inputs(np.zeros((1, 4, 4, 3), np.uint8),
        ...                             np.full((1, 4, 4, 1), 255, np.uint8))
        >>> float(hole.numpy().min()), tuple(masked.shape)
        (1.0, (1, 4, 4, 3))
    """
    check_image_and_mask(image, mask, where)
    hole = tf.constant(as_hole_masks(mask, where), tf.float32)
    masked_image = uint8_to_model(as_uint8_images(image, where)) * (1.0 - hole)
    return masked_image, hole
