"""Stateless random draws: seed splits, uniform numbers, and the strokes' shapes.

Every draw takes a stateless seed (an int tensor of shape `[2]`) and uses the
Philox generator by name, so the same seed gives the same numbers eagerly, in
`tf.data`, in a `tf.function`, on CPU and on GPU. The shape draws return
capsules (segments with a round brush: `ax`, `ay`, `bx`, `by`, `radius`, all
`(n, C)`), the geometry `raster.fill_capsules` paints: the lines, circles and
elliptic arcs of the OpenCV recipe used with partial convolutions (Liu et al.,
https://arxiv.org/abs/1804.07723). Imports no module of the masks package.

Example:

>>> first, second = split_seed(tf.constant([1, 2]), 2)
>>> lines = draw_lines(4, first, 3, 64, 64, 2.0, 6.0)
>>> sorted(lines), lines["radius"].shape
(['ax', 'ay', 'bx', 'by', 'radius'], TensorShape([4, 3]))
>>> int(tf.reduce_max(randint([100], second, 1, 3)))
3
"""

import math

import tensorflow as tf

# Named rather than "auto_select", which lets each device pick: the same seed
# must give the same masks on CPU and GPU.
_RNG = "philox"

# A float32 in [1, 2): 23 random mantissa bits under the exponent bits of 1.0.
_MANTISSA = 1 << 23
_ONE_BITS = 0x3F800000

# Largest deviation (pixels) of an elliptic arc from the polyline that draws it.
_ARC_TOLERANCE = 0.5


def split_seed(seed, count):
    """`count` independent seeds from one.

    Example:

    >>> len(split_seed(tf.constant([1, 2]), 3))
    3
    """
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=count, alg=_RNG))


def uniform(shape, seed, low, high):
    """float32 numbers uniform in [low, high).

    The numbers of `tf.random.stateless_uniform`, bit for bit, drawn so that
    XLA draws the same ones: 23 random mantissa bits (an integer draw, which
    XLA makes as the kernel does) give a float in [1, 2), less 1, scaled.
    (XLA's own float draw maps the random bits to other floats.)

    Example:

    >>> values = uniform([1000], tf.constant([1, 2]), 2.0, 3.0)
    >>> bool(tf.reduce_all((values >= 2.0) & (values < 3.0)))
    True
    >>> expected = tf.random.stateless_uniform([1000], tf.constant([1, 2]), 2.0, 3.0, alg=_RNG)
    >>> bool(tf.reduce_all(values == expected))
    True
    """
    mantissa = tf.random.stateless_uniform(
        shape, seed, minval=0, maxval=_MANTISSA, dtype=tf.int32, alg=_RNG
    )
    unit = tf.bitcast(tf.bitwise.bitwise_or(mantissa, _ONE_BITS), tf.float32) - 1.0
    # In float32 throughout, as the kernel's `unit * (high - low) + low`.
    low, high = (tf.cast(bound, tf.float32) for bound in (low, high))
    return unit * (high - low) + low


def randint(shape, seed, low, high):
    """Integers uniform in [low, high], inclusive.

    Example:

    >>> sorted(set(randint([1000], tf.constant([1, 2]), 1, 3).numpy().tolist()))
    [1, 2, 3]
    """
    return tf.random.stateless_uniform(
        shape, seed, minval=low, maxval=high + 1, dtype=tf.int32, alg=_RNG
    )


def uniform_index(shape, seed, count):
    """Integers uniform in [0, count) for a per-element int `count`.

    Example:

    >>> uniform_index([3], tf.constant([1, 2]), tf.constant([1, 1, 1])).numpy().tolist()
    [0, 0, 0]
    """
    count = tf.cast(count, tf.float32)
    index = tf.floor(uniform(shape, seed, 0.0, 1.0) * count)
    # A uniform just below 1 times a large count can round up to the count.
    return tf.cast(tf.minimum(index, count - 1), tf.int32)


def arc_segments(largest_axis):
    """Polyline segments for a half ellipse that stay within `_ARC_TOLERANCE` of it.

    Example:

    >>> arc_segments(256)
    26
    """
    # A chord over a parameter step d deviates at most axis * d**2 / 8 from the arc.
    step = math.sqrt(8 * _ARC_TOLERANCE / largest_axis)
    return max(4, math.ceil(math.pi / step))


def arc_chord(largest_axis):
    """The longest chord of an arc's polyline (pixels), for semi-axes up to `largest_axis`.

    A step `d` of the parameter moves a point of the ellipse at most
    `largest_axis * d`, and `draw_arcs` keeps `d` below `sqrt(8 * tolerance /
    largest_axis)` (or below it by its segment count, `arc_segments`).

    Example:

    >>> arc_chord(256)
    32.0
    """
    return math.sqrt(8 * _ARC_TOLERANCE * largest_axis)


def draw_lines(n, seed, count, height, width, thick_low, thick_high):
    """`count` lines per image as capsules: ends anywhere in the image, widths in range.

    Example:

    >>> draw_lines(2, tf.constant([1, 2]), 5, 32, 32, 3.0, 9.0)["ax"].shape
    TensorShape([2, 5])
    """
    seeds = split_seed(seed, 5)
    shape = [n, count]
    return {
        "ax": uniform(shape, seeds[0], 0.0, width - 1.0),
        "ay": uniform(shape, seeds[1], 0.0, height - 1.0),
        "bx": uniform(shape, seeds[2], 0.0, width - 1.0),
        "by": uniform(shape, seeds[3], 0.0, height - 1.0),
        "radius": uniform(shape, seeds[4], thick_low, thick_high) / 2,
    }


def draw_circles(n, seed, count, height, width, radius_low, radius_high):
    """`count` filled circles per image as capsules of zero length.

    Example:

    >>> circles = draw_circles(2, tf.constant([1, 2]), 5, 32, 32, 3.0, 9.0)
    >>> bool(tf.reduce_all(circles["ax"] == circles["bx"]))
    True
    """
    seeds = split_seed(seed, 3)
    shape = [n, count]
    x = uniform(shape, seeds[0], 0.0, width - 1.0)
    y = uniform(shape, seeds[1], 0.0, height - 1.0)
    return {
        "ax": x,
        "ay": y,
        "bx": x,
        "by": y,
        "radius": uniform(shape, seeds[2], radius_low, radius_high),
    }


def draw_arcs(n, seed, count, height, width, thick_low, thick_high, segments):
    """Elliptic arcs as polylines of at most `segments` capsules each.

    Each arc uses as few equal parameter steps as keep it within
    `_ARC_TOLERANCE` of its polyline (a short or small arc needs few); the
    capsules left over are marked unused in `"used"`. Arcs are listed image by
    image, each arc's `segments` capsules together: the capsules are
    `(n, count * segments)`.

    Example:

    >>> arcs = draw_arcs(2, tf.constant([1, 2]), 3, 64, 64, 3.0, 9.0, arc_segments(64))
    >>> arcs["used"].shape
    TensorShape([2, 39])
    """
    seeds = split_seed(seed, 8)
    shape = [n, count, 1]
    centre_x = uniform(shape, seeds[0], 0.0, width - 1.0)
    centre_y = uniform(shape, seeds[1], 0.0, height - 1.0)
    semi_x = uniform(shape, seeds[2], 1.0, float(width))
    semi_y = uniform(shape, seeds[3], 1.0, float(height))
    rotation = uniform(shape, seeds[4], 3.0, 180.0) * (math.pi / 180)
    first = uniform(shape, seeds[5], 3.0, 180.0) * (math.pi / 180)
    last = uniform(shape, seeds[6], 3.0, 180.0) * (math.pi / 180)
    sweep = tf.abs(last - first)
    # A chord over a parameter step d deviates at most axis * d**2 / 8 from the arc.
    largest_step = tf.sqrt(8 * _ARC_TOLERANCE / tf.maximum(semi_x, semi_y))
    steps = tf.clip_by_value(tf.math.ceil(sweep / largest_step), 1.0, float(segments))
    vertex = tf.range(segments + 1, dtype=tf.float32)
    angle = tf.minimum(first, last) + sweep * tf.minimum(vertex / steps, 1.0)
    along = semi_x * tf.cos(angle)
    across = semi_y * tf.sin(angle)
    xs = centre_x + along * tf.cos(rotation) - across * tf.sin(rotation)
    ys = centre_y + along * tf.sin(rotation) + across * tf.cos(rotation)
    radius = uniform(shape, seeds[7], thick_low, thick_high) / 2
    flat = [n, count * segments]
    return {
        "ax": tf.reshape(xs[..., :-1], flat),
        "ay": tf.reshape(ys[..., :-1], flat),
        "bx": tf.reshape(xs[..., 1:], flat),
        "by": tf.reshape(ys[..., 1:], flat),
        "radius": tf.reshape(tf.repeat(radius, segments, axis=-1), flat),
        "used": tf.reshape(vertex[:-1] < steps, flat),
    }
