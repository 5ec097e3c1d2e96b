"""Rasterisation: geometry to masks, and masks of a field's highest pixels.

`fill_capsules` paints unions of capsules (segments with a round brush; the
strokes of `irregular_strokes` and `free_form`), `fill_boxes` unions of
axis-aligned boxes, `top_pixels` the exact `k` highest pixels of a field and
`resize_bicubic` the smooth field itself (the holes of `random_region`), and
`raster_rank` numbers set pixels in raster order (how hole-ratio fitting
splits a ring of pixels). All are batched TensorFlow ops on float32 masks
`(n, H, W, 1)`, 1 = hole, with static `H` and `W`, and every shape they make
is fixed: they run eagerly, in a graph and compiled with XLA, the same ops.
Imports no module of the masks package.

Capsules: each capsule computes its span on each row of a fixed window of
image rows from its top (as tall as the kind's shapes can be; see
`fill_capsules`) from per-capsule coefficients that are linear in the row,
marks where the span starts and ends in a grid of rows with one segment sum,
and prefix sums along the rows (a matmul with a triangle of ones within
16-pixel blocks, whose carries are marks too) fill the spans: the cost does
not multiply `H * W` by the number of segments, and the grid is painted a
few images at a time (`CHUNK_PIXELS`) so that it stays in the CPU caches.
Boxes are one batched matmul of row and column indicators. Top pixels
threshold each image at an exact quantile found with a histogram.

Example:

>>> capsules = {
...     "ax": tf.constant([[2.0]]), "ay": tf.constant([[3.0]]),
...     "bx": tf.constant([[9.0]]), "by": tf.constant([[3.0]]),
...     "radius": tf.constant([[1.0]]), "active": tf.constant([[True]]),
... }
>>> mask = fill_capsules(capsules, 8, 12, None)
>>> mask.shape
TensorShape([1, 8, 12, 1])
>>> mask[0, 2:5, :, 0].numpy().sum(axis=1).tolist()  # rows 2, 3 and 4 of a 1-px brush
[8.0, 10.0, 8.0]
"""

import numpy as np
import tensorflow as tf

# A coordinate beyond any image: marks an empty span.
_FAR = 1e9

# Column block of the matmul prefix sums (see _prefix_sum_rows and _paint_spans).
_PREFIX_SHIFT = 4
_PREFIX_BLOCK = 1 << _PREFIX_SHIFT

# Pixels of span grid painted per loop step (a few images: 2 MiB of float32,
# which stays in the CPU caches; see _paint_spans).
CHUNK_PIXELS = 1 << 19

# Growths (pixels) that capsules' row windows are widened for, smallest first;
# a larger growth widens them to the whole height (see fill_capsules).
_GROW_WINDOWS = (0, 4, 16, 64)

# A capsule shorter than this has no band (its end discs cover it), and a
# direction within this of an axis counts as on the axis (see
# _capsule_coefficients).
_SHORT = 1e-3
_FLAT = 1e-6

# Histogram bins used to find a noise quantile: the pixels of the one bin that
# straddles the threshold (about H * W / 4096 of them) are split in raster order.
_QUANTILE_BINS = 4096

# Steps of the cubic kernel's table (as TensorFlow's ResizeBicubic kernel).
_CUBIC_TABLE = 1024


def _prefix_sum_rows(grid):
    """Inclusive prefix sums along the last axis of `(n, H, W)` float counts.

    Two small triangular matmuls (within blocks of `_PREFIX_BLOCK` columns,
    then across the block totals) run several times faster than `tf.cumsum`
    on CPU, and exactly: the counts are small integers.
    """
    height, width = grid.shape[1], grid.shape[2]
    blocks = -(-width // _PREFIX_BLOCK)
    grid = tf.pad(grid, [[0, 0], [0, 0], [0, blocks * _PREFIX_BLOCK - width]])
    inclusive = tf.linalg.band_part(tf.ones([_PREFIX_BLOCK, _PREFIX_BLOCK]), 0, -1)
    within = tf.reshape(grid, [-1, _PREFIX_BLOCK]) @ inclusive
    totals = tf.reshape(within[:, -1], [-1, blocks])
    exclusive = tf.linalg.band_part(tf.ones([blocks, blocks]), 0, -1) - tf.eye(blocks)
    offsets = tf.reshape(totals @ exclusive, [-1, 1])
    sums = tf.reshape(within + offsets, [-1, height, blocks * _PREFIX_BLOCK])
    return sums[:, :, :width]


def raster_rank(flags):
    """For `(n, H, W)` 0/1 flags, how many flags are set up to each pixel in raster order.

    Example:

    >>> flags = tf.constant([[[0.0, 1.0], [1.0, 1.0]]])
    >>> raster_rank(flags).numpy().tolist()
    [[[0.0, 1.0], [2.0, 3.0]]]
    """
    in_row = _prefix_sum_rows(flags)
    before_row = tf.cumsum(in_row[:, :, -1], axis=1, exclusive=True)
    return in_row + before_row[:, :, None]


def fill_boxes(boxes, height, width, grow):
    """Union of boxes [top, bottom) x [left, right), each moved out by `grow` pixels.

    Boxes covering a pixel = (rows in each box) @ (columns in each box), a
    batched matmul with one inner term per box, clipped to 1 (one box per
    image needs no clipping; a matmul is faster than a broadcast product).

    `boxes` maps top, left, bottom and right (int32) and active (bool) to
    `(n, B)` tensors; `grow` is `(n,)` pixels (floored, negative shrinks) or
    None.

    Example:

    >>> boxes = {
    ...     "top": tf.constant([[1, 2]]), "left": tf.constant([[1, 0]]),
    ...     "bottom": tf.constant([[3, 4]]), "right": tf.constant([[4, 2]]),
    ...     "active": tf.constant([[True, True]]),
    ... }
    >>> fill_boxes(boxes, 5, 5, None)[0, ..., 0].numpy().astype(int).tolist()
    [[0, 0, 0, 0, 0], [0, 1, 1, 1, 0], [1, 1, 1, 1, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]]
    >>> int(tf.reduce_sum(fill_boxes(boxes, 5, 5, tf.constant([1.0]))))
    23
    """
    top, left, bottom, right = (boxes[key] for key in ("top", "left", "bottom", "right"))
    if grow is not None:
        margin = tf.cast(tf.floor(grow), tf.int32)[:, None]
        top, left, bottom, right = top - margin, left - margin, bottom + margin, right + margin
    active = tf.cast(boxes["active"], tf.float32)[:, None, :]
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, :, None]
    in_rows = tf.cast((rows >= top[:, None, :]) & (rows < bottom[:, None, :]), tf.float32)
    in_cols = tf.cast((cols >= left[:, None, :]) & (cols < right[:, None, :]), tf.float32)
    cover = tf.matmul(in_rows * active, in_cols, transpose_b=True)
    if in_rows.shape[-1] > 1:
        cover = tf.minimum(cover, 1.0)
    return cover[..., None]


def fill_capsules(capsules, height, width, grow, rows=None):
    """Union of capsules: pixels whose centre lies within `radius` of a segment.

    `capsules` maps ax, ay, bx, by, radius and active to `(n, C)` tensors;
    `grow` (`(n,)` or None) is added to every radius. `rows` bounds the image
    rows one capsule crosses: `((count, rows), ...)` groups covering the `C`
    capsules in order (a kind knows how tall its shapes are), or None for the
    whole height; a `grow` widens every window by twice the batch's largest
    growth, rounded up to a step of `_GROW_WINDOWS` (or to the height). Each
    capsule is worked on over that fixed window of rows from its top, so
    every shape is static and the same ops compile with XLA; rows of the
    window below the capsule paint nothing. On each of its rows a capsule
    covers one span (it is convex), the union of the spans of its two end
    discs and of the band between them; `_paint_spans` fills the spans.

    Example:

    >>> dot = {key: tf.constant([[4.0]]) for key in ("ax", "ay", "bx", "by")}
    >>> dot.update(radius=tf.constant([[1.0]]), active=tf.constant([[True]]))
    >>> int(tf.reduce_sum(fill_capsules(dot, 9, 9, None)))  # a disc of radius 1
    5
    >>> int(tf.reduce_sum(fill_capsules(dot, 9, 9, tf.constant([1.0]), ((1, 3),))))  # radius 2
    13
    """
    ax, ay, bx, by, radius = (capsules[key] for key in ("ax", "ay", "bx", "by", "radius"))
    per_image = capsules["radius"].shape[1]
    rows = ((per_image, height),) if rows is None else rows
    if sum(count for count, _ in rows) != per_image:
        raise ValueError(
            f"the row groups {rows} do not cover the {per_image} capsules: their counts "
            "must add up to the capsules per image"
        )
    if grow is not None:
        radius = radius + grow[:, None]
    top = tf.maximum(tf.math.ceil(tf.minimum(ay, by) - radius), 0)
    bottom = tf.minimum(tf.floor(tf.maximum(ay, by) + radius), height - 1)
    crossed = capsules["active"] & (radius >= 0) & (bottom >= top)
    # Per capsule, the coefficients of its spans as linear functions of the
    # row, then its top and bottom rows (a bottom above the top paints nothing).
    bottom = tf.where(crossed, bottom, -1.0)
    geometry = tf.concat(
        [_capsule_coefficients(ax, ay, bx, by, radius), top[None], bottom[None]], 0
    )
    geometry = tf.transpose(geometry, [1, 0, 2])

    def paint(extra):
        windows = [(count, min(window + 2 * extra, height)) for count, window in rows]
        return _paint_spans(geometry, windows, height, width)

    if grow is None:
        return paint(0)
    # A capsule grown by g pixels crosses up to 2 * ceil(g) more rows: the
    # windows are widened by the first step of _GROW_WINDOWS that holds the
    # largest growth of the batch (each step a fixed shape).
    largest = tf.reduce_max(grow)

    def paint_grown(steps):
        if not steps:
            return paint(height)
        return tf.cond(largest <= steps[0], lambda: paint(steps[0]), lambda: paint_grown(steps[1:]))

    return paint_grown([step for step in _GROW_WINDOWS if 2 * step < height])


def _capsule_spans(geometry, window, width):
    """Span `[start, stop)` of `(n, C)` capsules on each row of their window, `(n, C, window)`.

    `geometry` is `(n, 18, C)`: `_capsule_coefficients`, then top and bottom
    rows. Also returns each pair's row, and whether it is in the capsule.
    """
    coefficients = tf.reshape(geometry[:, :16, :, None], [-1, 8, 2, geometry.shape[2], 1])
    top = geometry[:, 16, :, None]
    bottom = geometry[:, 17, :, None]
    y = top + tf.range(window, dtype=tf.float32)
    inside = y <= bottom
    centre_x, centre_y, radius_squared, slope, base, low, high, ends = tf.unstack(
        coefficients, axis=1
    )
    y = y[:, None]
    # End discs: x within sqrt(r^2 - dy^2) of the centre.
    dy = y - centre_y
    half_squared = radius_squared - dy * dy
    half = tf.where(half_squared < 0, -_FAR, tf.sqrt(tf.maximum(half_squared, 0.0)))
    left = tf.reduce_min(centre_x - half, axis=1)
    right = tf.reduce_max(centre_x + half, axis=1)
    # Band: x within `radius` of the segment's line (first of the pair) and
    # projecting into the segment (second).
    line = slope * y + base
    band_left = tf.reduce_max(line + low, axis=1)
    band_right = tf.reduce_min(line + high, axis=1)
    # An empty band must not widen the discs' span. A vertical band ends at
    # the segment's ends: `ends` holds (top, -bottom).
    beyond = tf.reduce_any(tf.concat([y, -y], 1) < ends, axis=1)
    empty = (band_left > band_right) | beyond
    left = tf.minimum(left, tf.where(empty, _FAR, band_left))
    right = tf.maximum(right, tf.where(empty, -_FAR, band_right))
    start = tf.cast(tf.clip_by_value(tf.math.ceil(left), 0, width), tf.int32)
    stop = tf.cast(tf.clip_by_value(tf.floor(right) + 1, 0, width), tf.int32)
    # An empty span starts where it stops: its two marks cancel.
    stop = tf.maximum(stop, start)
    return start, stop, y[:, 0], inside


def _capsule_coefficients(ax, ay, bx, by, radius):
    """`(16, ...)` span coefficients of capsules, rows in pairs (see `fill_capsules`).

    For a row y, a capsule's band spans the x with `slope * y + base + low <= x
    <= slope * y + base + high` for both rows of the pair. The first is the
    across condition, |(p - a) x u| <= r with u the unit direction; the second
    the along condition, 0 <= (p - a) . u <= length. A direction within
    `_FLAT` of an axis makes one condition independent of x: a horizontal
    segment's across condition holds on every row it crosses, a vertical
    segment's along condition holds on the image rows between its ends (the
    last pair).
    """
    dx, dy = bx - ax, by - ay
    length = tf.sqrt(dx * dx + dy * dy)
    safe_length = tf.maximum(length, _SHORT)
    ux, uy = dx / safe_length, dy / safe_length
    flat = tf.abs(uy) <= _FLAT
    upright = tf.abs(ux) <= _FLAT
    safe_uy = tf.where(flat, 1.0, uy)
    safe_ux = tf.where(upright, 1.0, ux)
    across_slope = tf.where(flat, 0.0, ux / safe_uy)
    across_base = tf.where(flat, 0.0, ax - across_slope * ay)
    across_half = tf.where(flat, _FAR, radius / tf.abs(safe_uy))
    along_slope = tf.where(upright, 0.0, -uy / safe_ux)
    along_base = tf.where(upright, 0.0, ax - along_slope * ay)
    reach = length / safe_ux
    along_low = tf.where(upright, -_FAR, tf.minimum(reach, 0.0))
    along_high = tf.where(upright, _FAR, tf.maximum(reach, 0.0))
    # A segment shorter than _SHORT has no band (its discs cover it).
    no_band = length <= _SHORT
    across_half = tf.where(no_band, -_FAR, across_half)
    squared = radius * radius
    # A vertical segment's band holds on the rows between its ends only.
    band_top = tf.where(upright, tf.minimum(ay, by), -_FAR)
    band_bottom = tf.where(upright, tf.maximum(ay, by), _FAR)
    coefficients = [
        ax, bx, ay, by, squared, squared,
        across_slope, along_slope, across_base, along_base,
        -across_half, along_low, across_half, along_high,
        band_top, -band_bottom,
    ]  # fmt: skip
    return tf.stack(coefficients)


def _paint_spans(geometry, windows, height, width):
    """Masks `(n, H, W, 1)` of the spans of capsules `geometry` `(n, 18, C)` (see `fill_capsules`).

    Each span adds 1 where it starts and -1 where it stops in a grid of rows,
    and prefix sums along the rows count the spans over each pixel. The
    prefix sums are exact small integers: a matmul with a triangle of ones
    within blocks of `_PREFIX_BLOCK` columns, after each block's first pixel
    got the carry of the marks left of it. The images are painted a fixed
    number at a time (the last chunk overlaps the one before it), so that the
    grid stays in the CPU caches from the marks to the masks and every shape
    in the loop is the same; the grid's pixels are touched a fixed number of
    times whatever the number of spans.
    """
    blocks = -(-width // _PREFIX_BLOCK)
    grid_width = blocks * _PREFIX_BLOCK
    n = tf.shape(geometry)[0]
    most = max(1, CHUNK_PIXELS // (height * grid_width))
    static_n = geometry.shape[0]
    per_chunk = min(most, static_n) if static_n is not None else tf.minimum(most, n)
    chunks = (n + per_chunk - 1) // per_chunk
    before = tf.linalg.band_part(tf.ones([blocks, blocks]), 0, -1) - tf.eye(blocks)
    inclusive = tf.linalg.band_part(tf.ones([_PREFIX_BLOCK, _PREFIX_BLOCK]), 0, -1)

    def first_image(chunk):
        return tf.minimum(chunk * per_chunk, n - per_chunk)

    def marks(chunk_geometry):
        """Start and stop marks of the spans of a chunk, and the grid pixel of each."""
        values, indices = [], []
        image = tf.range(per_chunk, dtype=tf.float32)[:, None, None]
        offset = 0
        for count, window in windows:
            start, stop, y, inside = _capsule_spans(
                chunk_geometry[:, :, offset : offset + count], window, width
            )
            offset += count
            inside = tf.cast(inside, tf.float32)
            base = tf.cast(image * height + tf.minimum(y, height - 1.0), tf.int32) * grid_width
            start_mark = inside
            stop_mark = -inside
            if grid_width == width:
                # A span that reaches the row's end has no stop mark in the
                # row (an empty span there has neither).
                start_mark = inside * tf.cast(start < width, tf.float32)
                stop_mark = -inside * tf.cast(stop < width, tf.float32)
                start = tf.minimum(start, width - 1)
                stop = tf.minimum(stop, width - 1)
            values += [tf.reshape(start_mark, [-1]), tf.reshape(stop_mark, [-1])]
            indices += [tf.reshape(base + start, [-1]), tf.reshape(base + stop, [-1])]
        return tf.concat(values, 0), tf.concat(indices, 0)

    def paint(chunk, painted):
        images = first_image(chunk) + tf.range(per_chunk)
        values, indices = marks(tf.gather(geometry, images))
        block_count = per_chunk * height * blocks
        # Carry into each block: the marks left of it in its row.
        block_marks = tf.math.unsorted_segment_sum(
            values, tf.bitwise.right_shift(indices, _PREFIX_SHIFT), block_count
        )
        carry = tf.reshape(tf.reshape(block_marks, [-1, blocks]) @ before, [-1])
        grid = tf.math.unsorted_segment_sum(
            tf.concat([values, carry], 0),
            tf.concat([indices, tf.range(block_count) * _PREFIX_BLOCK], 0),
            block_count * _PREFIX_BLOCK,
        )
        cover = tf.minimum(tf.reshape(grid, [-1, _PREFIX_BLOCK]) @ inclusive, 1.0)
        cover = tf.reshape(cover, [per_chunk, height, grid_width])[:, :, :width]
        return chunk + 1, painted.write(chunk, cover)

    element = [per_chunk if static_n is not None else None, height, width]
    painted = tf.TensorArray(tf.float32, size=chunks, element_shape=element)
    _, painted = tf.while_loop(lambda chunk, _: chunk < chunks, paint, (0, painted))
    if static_n is not None and static_n % per_chunk == 0:
        # The chunks do not overlap: they hold the images in order.
        return tf.reshape(painted.stack(), [static_n, height, width, 1])
    # Image i is in chunk i // per_chunk, or in the last one, which overlaps.
    image = tf.range(n)
    chunk = tf.minimum(image // per_chunk, chunks - 1)
    position = chunk * per_chunk + image - first_image(chunk)
    masks = tf.gather(tf.reshape(painted.stack(), [-1, height, width]), position)
    return masks[..., None]


def top_pixels(field, counts):
    """Masks of the `counts[b]` highest pixels of each `field[b]`, exactly.

    A per-image histogram (a segment sum) finds the level that straddles the
    threshold; the pixels above it are holes and the missing ones come from
    that level in raster order (a sort of every pixel would cost several times
    more). Every shape is fixed, so it compiles with XLA.

    `field` is float32 `(n, H, W, 1)`, `counts` int32 `(n,)`.

    Example:

    >>> field = tf.constant([[[[0.5], [0.9]], [[0.1], [0.9]]]])
    >>> top_pixels(field, tf.constant([3]))[0, ..., 0].numpy().tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    field = field[..., 0]
    n = tf.shape(field)[0]
    low = tf.reduce_min(field, axis=[1, 2], keepdims=True)
    high = tf.reduce_max(field, axis=[1, 2], keepdims=True)
    scale = _QUANTILE_BINS / tf.maximum(high - low, 1e-12)
    level = tf.cast(tf.minimum((field - low) * scale, _QUANTILE_BINS - 1), tf.int32)
    image_bins = tf.range(n)[:, None, None] * _QUANTILE_BINS
    histogram = tf.math.unsorted_segment_sum(
        tf.ones_like(level), level + image_bins, n * _QUANTILE_BINS
    )
    at_or_above = tf.cumsum(tf.reshape(histogram, [n, _QUANTILE_BINS]), axis=1, reverse=True)
    # at_or_above falls with the level: the threshold is the last level that
    # still has enough pixels at or above it.
    enough = at_or_above >= counts[:, None]
    threshold = tf.reduce_sum(tf.cast(enough, tf.int32), axis=1) - 1
    above_count = tf.gather(
        tf.pad(at_or_above, [[0, 0], [0, 1]]), threshold + 1, axis=1, batch_dims=1
    )
    missing = tf.cast(counts - above_count, tf.float32)
    above = tf.cast(level > threshold[:, None, None], tf.float32)
    # The straddling pixels in raster order: each image takes its first `missing` ones.
    straddling = tf.cast(tf.equal(level, threshold[:, None, None]), tf.float32)
    chosen = straddling * tf.cast(raster_rank(straddling) <= missing[:, None, None], tf.float32)
    return (above + chosen)[..., None]


def resize_bicubic(field, height, width):
    """`tf.image.resize(field, [height, width], "bicubic")` of `(n, h, w, 1)`, as XLA compiles it.

    The same arithmetic as TensorFlow's `ResizeBicubic` kernel (half-pixel
    centres, Keys' cubic with a = -0.5 from a 1024-step table, taps beyond the
    border dropped and the weights renormalised; columns first, then rows), in
    gathers and element-wise products, so the values are the kernel's, bit for
    bit, in a graph and very close under XLA.

    Example:

    >>> field = tf.reshape(tf.range(12, dtype=tf.float32), [1, 3, 4, 1])
    >>> expected = tf.image.resize(field, [7, 9], method="bicubic")
    >>> bool(tf.reduce_all(resize_bicubic(field, 7, 9) == expected))
    True
    """
    rows = _cubic_taps(field.shape[1], height)
    cols = _cubic_taps(field.shape[2], width)
    # The interpolated axis leads, so that each tap gathers whole rows of
    # memory: each output row from four input rows at every input column...
    field = _weighted_taps(tf.transpose(field[..., 0], [1, 2, 0]), rows)
    # ...then each output pixel from four of those columns.
    field = _weighted_taps(tf.transpose(field, [1, 0, 2]), cols)
    return tf.transpose(field, [2, 1, 0])[..., None]


def _weighted_taps(field, taps):
    """Sum over the four taps of the leading axis' gathered values times their weights.

    The products are summed in tap order, as the kernel sums them.
    """
    indices, weights = taps
    total = None
    for index, weight in zip(indices, weights, strict=True):
        term = tf.gather(field, index) * weight[:, None, None]
        total = term if total is None else total + term
    return total


def _cubic_table():
    """Keys' cubic kernel (a = -0.5) at `_CUBIC_TABLE` steps of [0, 1] and [1, 2]."""
    a = -0.5
    x = np.arange(_CUBIC_TABLE + 1, dtype=np.float32).astype(np.float64) / _CUBIC_TABLE
    x = x.astype(np.float32).astype(np.float64)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far_x = (x.astype(np.float32) + np.float32(1.0)).astype(np.float64)
    far = ((a * far_x - 5 * a) * far_x + 8 * a) * far_x - 4 * a
    return near.astype(np.float32), far.astype(np.float32)


def _cubic_taps(in_size, out_size):
    """Indices and weights `([4 x (out,)], [4 x (out,)])` of the four taps of each output."""
    near, far = _cubic_table()
    scale = np.float32(in_size) / np.float32(out_size)
    position = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    first = np.floor(position)
    offset = np.rint((position - first) * np.float32(_CUBIC_TABLE)).astype(np.int64)
    first = first.astype(np.int64)
    weights = [far[offset], near[offset], near[_CUBIC_TABLE - offset], far[_CUBIC_TABLE - offset]]
    indices = []
    for tap in range(4):
        wanted = first + tap - 1
        index = np.clip(wanted, 0, in_size - 1)
        weights[tap] = np.where(index == wanted, weights[tap], np.float32(0.0))
        indices.append(index.astype(np.int32))
    total = ((weights[0] + weights[1]) + weights[2]) + weights[3]
    inverse = np.float32(1.0) / total
    weights = [(weight * inverse).astype(np.float32) for weight in weights]
    return indices, weights
