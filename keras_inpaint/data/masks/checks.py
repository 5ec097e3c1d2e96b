"""Value checks of the mask arguments: sizes, seeds, ranges, box sides, noise.

The bottom of the masks package (it imports none of its modules). Each check
returns the value in the form the generators use, or raises a `ValueError`
that names the argument and says what it must be. Checks that take no image
size run when a spec is read (`spec.make_mask_fn`); `side_pixels`,
`side_pixel_range`, `noise_cells` and `hole_count_range` need the image size
and run when masks are drawn.

Example:

>>> count_range([1, 3], "num_boxes")
(1, 3)
>>> side_pixel_range((0.25, 0.5), 64, "box_size")
(16, 32)
>>> hole_count_range((0.1, 0.2), 100)
(10, 20)
>>> count_range((0, 2), "num_boxes")
Traceback (most recent call last):
...
ValueError: num_boxes must be at least 1, got (0, 2)
"""

import math
import numbers

import tensorflow as tf


def static_int(value, name):
    """A positive Python int from an int or a constant int tensor.

    Example:

    >>> static_int(tf.constant(32), "height")
    32
    """
    static = tf.get_static_value(value) if tf.is_tensor(value) else value
    if static is None:
        raise ValueError(
            f"{name} must be known when the masks are traced (a Python int or a constant "
            f"tensor); only batch_size may be dynamic"
        )
    if hasattr(static, "item"):
        static = static.item()
    if isinstance(static, bool) or not isinstance(static, int):
        raise ValueError(f"{name} must be an integer, got {static!r}")
    if static < 1:
        raise ValueError(f"{name} must be positive, got {static}")
    return static


def image_size(height, width):
    """`(height, width)` as positive Python ints (see `static_int`).

    Example:

    >>> image_size(24, tf.constant(40, tf.int64))
    (24, 40)
    """
    return static_int(height, "height"), static_int(width, "width")


def batch_size(value):
    """A positive Python int, or a scalar int tensor cast to int32 (it may be dynamic).

    Example:

    >>> batch_size(8)
    8
    >>> batch_size(tf.constant(8, tf.int64)).dtype
    tf.int32
    """
    if not tf.is_tensor(value):
        return static_int(value, "batch_size")
    if value.shape.rank != 0 or not value.dtype.is_integer:
        raise ValueError(f"batch_size must be a scalar int tensor, got {value!r}")
    static = tf.get_static_value(value)
    if static is not None:
        static_int(static, "batch_size")
    return tf.cast(value, tf.int32)


def seed(value):
    """A stateless seed: an int32/int64 tensor of shape `[2]`.

    Example:

    >>> seed((1, 2)).shape
    TensorShape([2])
    """
    value = tf.convert_to_tensor(value)
    if value.dtype not in (tf.int32, tf.int64) or not value.shape.is_compatible_with([2]):
        raise ValueError(f"seed must be an int32/int64 tensor of shape [2], got {value!r}")
    return value


def _plain_number(value):
    """A Python int or float for any real number (numpy scalars too), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return None


def _pair(value, name):
    """(low, high) of plain numbers from a number or a pair."""
    if _plain_number(value) is not None:
        return _plain_number(value), _plain_number(value)
    if isinstance(value, tuple | list) and len(value) == 2:
        low, high = map(_plain_number, value)
        if low is not None and high is not None:
            return low, high
    raise ValueError(f"{name} must be a number or a (low, high) pair, got {value!r}")


def _range(value, name, integer=False, minimum=None, maximum=None):
    """An inclusive (low, high) pair from a number or a pair."""
    low, high = _pair(value, name)
    if integer and not (isinstance(low, int) and isinstance(high, int)):
        raise ValueError(f"{name} must be integers, got {value!r}")
    if low > high:
        raise ValueError(f"{name}: low {low} is greater than high {high}")
    if minimum is not None and low < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    if maximum is not None and high > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value!r}")
    return low, high


def count_range(value, name):
    """An inclusive `(low, high)` range of counts, integers of at least 1.

    Example:

    >>> count_range(2, "num_boxes")
    (2, 2)
    """
    return _range(value, name, integer=True, minimum=1)


def length_range(value, name):
    """A `(low, high)` range of lengths, at least 0.

    Example:

    >>> length_range([3, 15], "thickness")
    (3, 15)
    """
    return _range(value, name, minimum=0)


def ratio_range(value, name):
    """A `(low, high)` range of fractions in [0, 1].

    Example:

    >>> ratio_range((0.2, 0.3), "hole_ratio")
    (0.2, 0.3)
    """
    return _range(value, name, minimum=0, maximum=1)


def _single_number(value, name, integer=False, minimum=None):
    if _plain_number(value) is None:
        raise ValueError(f"{name} must be a single number, got {value!r}")
    return _range(value, name, integer=integer, minimum=minimum)[0]


def positive_int(value, name):
    """One integer of at least 1.

    Example:

    >>> positive_int(4, "num_candidates")
    4
    """
    return _single_number(value, name, integer=True, minimum=1)


def non_negative(value, name):
    """One number of at least 0.

    Example:

    >>> non_negative(0.5, "max_angle")
    0.5
    """
    return _single_number(value, name, minimum=0)


def side_spec(value, name):
    """A box side: an int is pixels (>= 1), a float a fraction of the image side in (0, 1].

    Example:

    >>> side_spec(0.5, "box_height")
    0.5
    """
    value = _plain_number(value)
    if isinstance(value, float):
        if not 0 < value <= 1:
            raise ValueError(f"{name} as a fraction must be in (0, 1], got {value}")
    elif not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int (pixels) or a fraction, got {value!r}")
    return value


def side_spec_range(value, name):
    """A `(low, high)` range of box sides: two ints (pixels) or two floats (fractions).

    Example:

    >>> side_spec_range([16, 32], "box_size")
    (16, 32)
    """
    low, high = _pair(value, name)
    if type(low) is not type(high):
        raise ValueError(f"{name} must be two ints (pixels) or two floats (fractions), got {value}")
    side_spec(low, name)
    side_spec(high, name)
    return _range(value, name)


def side_pixels(value, side, name):
    """A box side (see `side_spec`) in pixels for an image side of `side` pixels.

    Example:

    >>> side_pixels(0.5, 48, "box_width")
    24
    """
    value = side_spec(value, name)
    if isinstance(value, float):
        return max(1, round(value * side))
    if value > side:
        raise ValueError(f"{name} {value} is bigger than the image side ({side} px)")
    return value


def side_pixel_range(value, side, name):
    """A range of box sides (see `side_spec_range`) in pixels for an image side.

    Example:

    >>> side_pixel_range((8, 24), 64, "box_size")
    (8, 24)
    """
    low, high = side_spec_range(value, name)
    return side_pixels(low, side, name), side_pixels(high, side, name)


def noise_spec(value, name):
    """A noise grid size: a float in (0, 1] is cells per pixel, an int >= 2 cells per side.

    Example:

    >>> noise_spec(0.06, "noise_size")
    0.06
    """
    value = _plain_number(value)
    fraction = isinstance(value, float) and 0 < value <= 1
    cells = isinstance(value, int) and value >= 2
    if not (fraction or cells):
        raise ValueError(
            f"{name} must be a float in (0, 1] (cells per pixel) or an int >= 2 (cells per "
            f"side), got {value!r}"
        )
    return value


def noise_cells(noise_size, side):
    """Noise cells along an image side of `side` pixels (see `noise_spec`).

    Example:

    >>> noise_cells(0.06, 128)
    8
    """
    noise_size = noise_spec(noise_size, "noise_size")
    if isinstance(noise_size, float):
        return max(2, round(noise_size * side))
    return noise_size


def hole_count_range(hole_ratio, num_pixels):
    """Hole pixel counts `(ceil(lo * N), floor(hi * N))` allowed by a hole-ratio range.

    Example:

    >>> hole_count_range((0.1, 0.1), 100)
    (10, 10)
    """
    low, high = ratio_range(hole_ratio, "hole_ratio")
    # Rounding first keeps 0.1 * 100 from becoming 11 pixels.
    count_low = math.ceil(round(low * num_pixels, 6))
    count_high = math.floor(round(high * num_pixels, 6))
    if count_low > count_high:
        raise ValueError(
            f"hole_ratio {hole_ratio} allows no whole number of hole pixels out of {num_pixels}"
        )
    return count_low, count_high
