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
- **Mask files** (PNG/JPEG/BMP/GIF, 8 or 16 bits) are bright strokes on black,
  read by one decoder everywhere (`decode_mask_file`): a pixel is bright where
  its brightest colour channel (so red strokes count) is above half the file's
  maximum (127 of 255, 32767 of 65535; robust to JPEG noise), or, in a file
  whose colour values are all 0 or 1, where it is 1. Alpha counts when it
  varies: then transparent pixels are never a hole and the painted (opaque)
  ones are, all of them, or only the bright ones when some are bright (see
  `hole_from_pixels`).
- **Photo orientation**: image and mask files are turned upright by their
  EXIF orientation, as viewers show them (`decode_image_file`).

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

from keras_inpaint.exif import exif_orientation, read_bytes, upright


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


def hole_from_pixels(pixels, maximum, alpha=True):
    """Mask-file pixels `(..., C)` -> uint8 `(..., 1)` with 1 = hole: the mask-file rule.

    TensorFlow ops (eager, `tf.data` and exported graphs alike). `maximum` is
    the file's largest value (255 for 8 bits, 65535 for 16 bits).

    - Colour: a pixel is bright where its brightest colour channel (gray, or
      the largest of R, G, B) is above `maximum // 2`; when every colour value
      is 0 or 1 the file is a 0/1 mask (it looks black) and 1 is bright.
    - Alpha (the last of 2 or 4 channels, when `alpha` is true) counts when it
      varies, i.e. some pixels are opaque (alpha above `maximum // 2`) and some
      are not: strokes painted on a transparent layer. Transparent pixels are
      then never a hole, whatever colour hides under them, and the painted
      pixels are the hole: all of them (black or any colour), or only the
      bright ones when some painted pixels are bright (a white-on-black mask
      with transparent parts). Uniform alpha (all opaque, or all transparent
      as some programs write it) leaves the colour alone to decide.

    Example:
        >>> black, white, clear = [0, 0, 0, 255], [255, 255, 255, 255], [0, 0, 0, 0]
        >>> hole_from_pixels(tf.constant([[black, clear]]), 255)[..., 0].numpy().tolist()
        [[1, 0]]
        >>> hole_from_pixels(tf.constant([[black, white, clear]]), 255)[..., 0].numpy().tolist()
        [[0, 1, 0]]
    """
    pixels = tf.cast(pixels, tf.int32)
    maximum = tf.cast(maximum, tf.int32)
    channels = tf.shape(pixels)[-1]
    has_alpha = tf.logical_and(alpha, tf.logical_or(tf.equal(channels, 2), tf.equal(channels, 4)))
    colour = pixels[..., : tf.where(has_alpha, channels - 1, channels)]
    level = tf.reduce_max(colour, axis=-1)
    half = maximum // 2
    zero_one = tf.reduce_max(level) <= 1
    bright = level > tf.where(zero_one, 0, half)
    opaque = tf.cond(has_alpha, lambda: pixels[..., -1] > half, lambda: tf.ones_like(bright))
    alpha_varies = tf.logical_and(tf.reduce_any(opaque), tf.reduce_any(~opaque))
    painted_bright = tf.reduce_any(opaque & bright)
    hole = tf.where(alpha_varies, opaque & (bright | ~painted_bright), bright)
    return tf.cast(hole[..., None], tf.uint8)


def hole_from_mask_file(pixels):
    """Decoded mask-file pixels `(..., C)` (uint8 or uint16) -> uint8 `(..., 1)` with 1 = hole.

    The numpy face of `hole_from_pixels` (the rule every entry point uses);
    the file's maximum comes from the dtype: 65535 for uint16, else 255.

    Example:
        >>> import numpy as np
        >>> hole_from_mask_file(np.array([[[0], [255]]], np.uint8))[..., 0].tolist()
        [[0, 1]]
        >>> hole_from_mask_file(np.array([[[0], [1]]], np.uint8))[..., 0].tolist()
        [[0, 1]]
        >>> hole_from_mask_file(np.array([[[0, 0, 0], [200, 0, 0]]], np.uint8))[..., 0].tolist()
        [[0, 1]]
    """
    pixels = np.asarray(pixels)
    maximum = 65535 if pixels.dtype == np.uint16 else 255
    return hole_from_pixels(tf.constant(pixels.astype(np.int32)), maximum).numpy()


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_image_file(encoded, channels=3):
    """Encoded PNG/JPEG/BMP/GIF bytes -> uint8 `(H, W, channels)`, upright by EXIF orientation.

    TensorFlow ops: the same decode eagerly, in training pipelines and in
    exported signatures. Decoder errors are `tf.errors.InvalidArgumentError`.

    Example:
        >>> decode_image_file(tf.io.encode_png(tf.zeros((2, 3, 3), tf.uint8))).shape
        TensorShape([2, 3, 3])
    """
    image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    orientation = exif_orientation(encoded)
    # Most files are upright: they skip the (copying) turn.
    return tf.cond(orientation == 1, lambda: image, lambda: upright(image, orientation))


def decode_mask_file(encoded):
    """Encoded mask file bytes -> uint8 `(H, W, 1)`, 1 = hole: the one mask-file decoder.

    Every channel is read at the file's own depth (16-bit PNGs as 16 bits)
    and judged by `hole_from_pixels`; the mask is turned upright by its EXIF
    orientation like its image. TensorFlow ops (eager, `tf.data`, exported
    graphs); decoder errors are `tf.errors.InvalidArgumentError`.

    Example:
        >>> red = tf.constant([[[0, 0, 0], [255, 0, 0]]], tf.uint8)
        >>> decode_mask_file(tf.io.encode_png(red))[..., 0].numpy().tolist()
        [[0, 1]]
    """
    read = read_bytes(encoded)
    is_png = tf.strings.substr(encoded, 0, 8) == _PNG_SIGNATURE
    # A PNG's bit depth is the byte after IHDR's width and height.
    sixteen_bits = is_png & (read(tf.constant(24, tf.int64)) == 16)
    pixels = tf.cond(
        sixteen_bits,
        lambda: tf.cast(tf.io.decode_png(encoded, dtype=tf.uint16), tf.int32),
        lambda: tf.cast(tf.io.decode_image(encoded, expand_animations=False), tf.int32),
    )
    is_jpeg = tf.reduce_all(read(tf.range(2, dtype=tf.int64)) == (0xFF, 0xD8))
    hole = hole_from_pixels(pixels, tf.where(sixteen_bits, 65535, 255), alpha=~is_jpeg)
    return upright(hole, exif_orientation(encoded))


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
