"""Masks read from image files: `load_mask_file`, `from_files` and the `files` kind.

A file's hole is decided by the rule every entry point uses
(`keras_inpaint.images.decode_mask_file`). Files are read eagerly, even while
a `tf.function` is traced, and become constants. Warnings go to the
`keras_inpaint.data.masks` logger. Imports `draws` and `checks`.

Example:

>>> import os, tempfile
>>> import numpy as np
>>> folder = tempfile.mkdtemp()
>>> for rows in (1, 2):  # 1 or 2 hole rows of 4
...     pixels = np.zeros((4, 4, 1), np.uint8)
...     pixels[:rows] = 255
...     tf.io.write_file(os.path.join(folder, f"mask_{rows}.png"), tf.io.encode_png(pixels))
>>> mask_fn = files_mask_fn(os.path.join(folder, "mask_*.png"))
>>> masks = mask_fn(16, 8, 8, tf.constant([1, 2]))
>>> sorted(set(tf.reduce_sum(masks, axis=[1, 2, 3]).numpy().tolist()))
[16.0, 32.0]
"""

import glob
import logging
import os

import tensorflow as tf

from keras_inpaint.data.masks import checks, draws
from keras_inpaint.images import decode_mask_file

# The package's logger (docs/RELIABILITY.md names it).
logger = logging.getLogger(__package__)


def load_mask_file(path, height=None, width=None):
    """Reads one mask image file: nonzero (or > 127) = hole.

    PNG (8 or 16 bits), JPEG, BMP and GIF (first frame), any channel count,
    by the rule every entry point uses (`keras_inpaint.images.decode_mask_file`):
    a hole where the brightest colour channel is above half the file's
    maximum (any bright colour on black), or, for files whose colour values
    are all 0 or 1, where it is 1; alpha counts when it varies (strokes
    painted on a transparent layer are the hole). The mask is turned upright
    by its EXIF orientation. A file without a hole logs a warning. The file
    is read eagerly, even when called while a `tf.function` is traced, and
    the result is a constant.

    Args:
        path: file path (anything `tf.io.gfile` opens).
        height: optional height to resize to (nearest neighbour).
        width: optional width to resize to (nearest neighbour).

    Returns:
        float32 tensor `(height, width, 1)`, 1 = hole.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not an image.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "hole.png")
    >>> tf.io.write_file(path, tf.io.encode_png(tf.fill([4, 4, 1], tf.constant(255, tf.uint8))))
    >>> load_mask_file(path, 8, 6).shape
    TensorShape([8, 6, 1])
    """
    path = os.fspath(path)
    with tf.init_scope():
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"mask file not found: {path}")
        try:
            mask = tf.cast(decode_mask_file(tf.io.read_file(path)), tf.float32)
        except tf.errors.OpError as error:
            raise ValueError(
                f"{path} is not an image (cannot decode it as PNG, JPEG, BMP or GIF)"
            ) from error
        if float(tf.reduce_max(mask)) == 0.0:
            # Training on it would teach nothing about filling: say so once per read.
            logger.warning(
                "mask file %s has no hole (no pixel bright on black, none painted on a "
                "transparent layer); paint the hole white (or any bright colour) on black",
                path,
            )
        if height is None and width is None:
            return mask
        size = [
            mask.shape[0] if height is None else checks.static_int(height, "height"),
            mask.shape[1] if width is None else checks.static_int(width, "width"),
        ]
        return tf.image.resize(mask, size, method="nearest")


def from_files(paths, height, width):
    """Reads mask image files into one tensor, resized to `(height, width)`.

    See `load_mask_file` for the formats and the hole rule.

    Args:
        paths: a sequence of file paths, or one glob pattern (its matches are
            sorted).
        height: mask height (nearest-neighbour resize).
        width: mask width (nearest-neighbour resize).

    Returns:
        float32 tensor `(N, height, width, 1)`, 1 = hole.

    Raises:
        FileNotFoundError: a file is missing or the pattern matches nothing.
        ValueError: a file is not an image, or `paths` is empty.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "hole.png")
    >>> tf.io.write_file(path, tf.io.encode_png(tf.zeros([32, 32, 3], tf.uint8)))
    >>> from_files([path], 64, 64).shape
    TensorShape([1, 64, 64, 1])
    """
    height, width = checks.image_size(height, width)
    if isinstance(paths, str | os.PathLike):
        pattern = os.fspath(paths)
        paths = sorted(glob.glob(pattern, recursive=True))
        if not paths:
            raise FileNotFoundError(f"no mask files match {pattern!r}")
    if len(paths) == 0:
        raise ValueError("from_files needs at least one path")
    with tf.init_scope():
        return tf.stack([load_mask_file(path, height, width) for path in paths])


def files_mask_fn(pattern):
    """The `files` kind: each image's mask is one of the files matching `pattern`.

    The function picks one file per image by the seed and resizes it; the
    files are read once per image size, when the function is first called (or
    traced). Files match a recursive glob, sorted.

    Args:
        pattern: glob of mask files.

    Returns:
        `fn(batch_size, height, width, seed)` returning float32 masks
        `(batch_size, height, width, 1)`, 1 = hole.

    Raises:
        FileNotFoundError: the pattern matches nothing.

    The module docstring has an example.
    """
    paths = sorted(glob.glob(os.fspath(pattern), recursive=True))
    if not paths:
        raise FileNotFoundError(f"no mask files match {pattern!r}")
    banks = {}

    def mask_fn(batch_size, height, width, seed):
        batch_size = checks.batch_size(batch_size)
        height, width = checks.image_size(height, width)
        if (height, width) not in banks:
            banks[(height, width)] = from_files(paths, height, width)
        picks = draws.uniform_index([batch_size], checks.seed(seed), len(paths))
        return tf.gather(banks[(height, width)], picks)

    return mask_fn
