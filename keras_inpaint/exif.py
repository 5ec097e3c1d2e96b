"""A photo's EXIF orientation, read and applied with TensorFlow ops.

Phone cameras store pixels as the sensor saw them and an EXIF tag that says
how to turn them (orientation 1..8). Viewers apply it; `tf.io.decode_image`
does not, so a rotated phone JPEG would be filled in the wrong place and come
out on its side. These functions parse the tag from the encoded bytes and turn
the pixels, as TensorFlow ops, so the same code runs eagerly, in `tf.data`
pipelines and inside exported SavedModel signatures (where TF Serving calls
them and no Python runs). `keras_inpaint.images.decode_image_file` and
`decode_mask_file` use them.

Example:
    >>> import tensorflow as tf
    >>> from keras_inpaint.exif import exif_orientation
    >>> int(exif_orientation(tf.io.encode_png(tf.zeros((2, 2, 1), tf.uint8))))
    1
"""

import numpy as np
import tensorflow as tf

# Where a JPEG's EXIF segment is looked for: among its first segments, where cameras
# (first) and editors (after a JFIF segment, or one more) write it, within this head.
_MAX_SEGMENTS = 3
_HEAD_BYTES = 1 << 17
_MAX_IFD_ENTRIES = 32
_ORIENTATION_TAG = 0x0112
# A segment holding EXIF starts 0xFF 0xE1, two length bytes (any), "Exif\0\0".
_EXIF_START = (0xFF, 0xE1, 0, 0, *b"Exif\0\0")
_EXIF_START_CHECKED = (True, True, False, False, True, True, True, True, True, True)


def read_bytes(encoded):
    """`read(index)`: the file's bytes at `index` (any shape, >= 0) as int64, 0 past its head."""
    head = tf.io.decode_raw(tf.strings.substr(encoded, 0, _HEAD_BYTES), tf.uint8)
    data = tf.concat([head, tf.zeros([16], tf.uint8)], 0)
    last = tf.size(data, tf.int64) - 1

    def read(index):
        # Bytes stay uint8 until read: casting the whole head would cost more than the parse.
        return tf.cast(tf.gather(data, tf.minimum(index, last)), tf.int64)

    return read


def _offsets(count):
    return tf.constant(np.arange(count), tf.int64)


def _exif_start(read):
    """Index of the TIFF header in a JPEG's EXIF segment, or -1 (also for other files)."""
    positions = [tf.constant(2, tf.int64)]
    for _ in range(_MAX_SEGMENTS - 1):
        # Each segment: 0xFF, its marker, then its length (which counts itself).
        length = read(positions[-1] + _offsets(4))[2:]
        positions.append(positions[-1] + 2 + 256 * length[0] + length[1])
    starts = tf.stack(positions)
    windows = read(starts[:, None] + _offsets(len(_EXIF_START)))
    matches = (windows == _EXIF_START) | ~tf.constant(_EXIF_START_CHECKED)
    # A JPEG starts 0xFF 0xD8; its first EXIF segment counts.
    is_jpeg = tf.reduce_all(read(_offsets(2)) == (0xFF, 0xD8))
    first = tf.reduce_min(tf.where(tf.reduce_all(matches, axis=1), starts + 10, _HEAD_BYTES))
    return tf.where(is_jpeg & (first < _HEAD_BYTES), first, -1)


def exif_orientation(encoded):
    """The EXIF orientation (1..8) of encoded file bytes; 1 (upright) when there is none.

    Reads the orientation tag of a JPEG's EXIF segment (one of its first
    three, where cameras and editors write it) with TensorFlow ops, so it
    runs eagerly, in `tf.data` and inside an exported graph. Other formats,
    and a missing or damaged tag, give 1.

    Example:
        >>> int(exif_orientation(tf.io.encode_png(tf.zeros((2, 2, 1), tf.uint8))))
        1
    """
    read = read_bytes(encoded)
    tiff = _exif_start(read)
    # Files without EXIF (most of a training set) skip the tag search.
    return tf.cond(tiff >= 0, lambda: _tagged_orientation(read, tiff), lambda: tf.constant(1))


def _tagged_orientation(read, tiff):
    # The TIFF header: byte order ("II" is Intel's, least significant byte first),
    # 42, then the offset of the first directory of tags (IFD0).
    header = read(tf.maximum(tiff, 0) + _offsets(8))
    little = header[0] == 0x49
    little_endian = tf.constant([256**place for place in range(4)], tf.int64)
    weights = tf.where(little, little_endian, tf.reverse(little_endian, [0]))
    short = tf.where(little, little_endian[:2], tf.reverse(little_endian[:2], [0]))
    directory = tiff + tf.reduce_sum(header[4:] * weights)
    # A count of entries, then 12 bytes each: tag, type, count, value (a SHORT first).
    table = read(directory + _offsets(2 + 12 * _MAX_IFD_ENTRIES))
    count = tf.reduce_sum(table[:2] * short)
    entries = tf.reshape(table[2:], [_MAX_IFD_ENTRIES, 12])
    tags = tf.reduce_sum(entries[:, :2] * short, axis=1)
    values = tf.reduce_sum(entries[:, 8:10] * short, axis=1)
    is_orientation = (tags == _ORIENTATION_TAG) & (_offsets(_MAX_IFD_ENTRIES) < count)
    orientation = tf.reduce_max(tf.where(is_orientation, values, 0))
    valid = (tiff >= 0) & (orientation >= 1) & (orientation <= 8)
    return tf.cast(tf.where(valid, orientation, 1), tf.int32)


def upright(image, orientation):
    """Turn decoded pixels `(H, W, C)` as EXIF `orientation` (1..8) says viewers show them.

    Orientations 5 to 8 swap the axes, then each orientation flips rows,
    columns, both or neither; 1 (or anything outside 1..8) leaves the pixels
    as they are.

    Example:
        >>> upright(tf.constant([[[1], [2]]]), 6)[..., 0].numpy().tolist()
        [[1], [2]]
    """
    orientation = tf.cast(orientation, tf.int32)
    orientation = tf.where((orientation >= 1) & (orientation <= 8), orientation, 1)
    # Data ops, no branches: one graph for all eight, so it serves inside `tf.data` and exports.
    swap = orientation >= 5
    flips = (orientation - 1) % 4  # none, columns, both, rows
    perm = tf.where(swap, (1, 0, 2), (0, 1, 2))
    axes = tf.boolean_mask((0, 1), tf.stack([flips >= 2, (flips == 1) | (flips == 2)]))
    turned = tf.reverse(tf.transpose(image, perm), axes)
    turned.set_shape([None, None, image.shape[-1]])
    return turned
