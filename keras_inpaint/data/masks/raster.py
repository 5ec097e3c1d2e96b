"""Rasterisation: geometry to masks, and masks of a field's highest pixels.

`fill_capsules` paints unions of capsules (segments with a round brush; the
strokes of `irregular_strokes` and `free_form`), `fill_boxes` unions of
axis-aligned boxes, `top_pixels` the exact `k` highest pixels of a field (the
holes of `random_region`), and `raster_rank` numbers set pixels in raster
order (how hole-ratio fitting splits a ring of pixels). All are batched
TensorFlow ops on float32 masks `(n, H, W, 1)`, 1 = hole, with static `H` and
`W`. Imports no module of the masks package.

Capsules: each capsule computes its span on each image row it crosses (a
ragged list, so the work follows the painted area) from per-capsule
coefficients that are linear in the row, marks where the span starts and ends
in a grid of rows with one segment sum, and prefix sums along the rows (a
matmul with a triangle of ones within 16-pixel blocks, whose carries are marks
too) fill the spans: the cost does not multiply `H * W` by the number of
segments, and the grid is painted a few images at a time (`CHUNK_PIXELS`) so
that it stays in the CPU caches. Boxes are one batched matmul of row and
column indicators. Top pixels threshold each image at an exact quantile found
with a histogram.

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

import tensorflow as tf

# A coordinate beyond any image: marks an empty span.
_FAR = 1e9

# Column block of the matmul prefix sums (see _prefix_sum_rows and _paint_spans).
_PREFIX_SHIFT = 4
_PREFIX_BLOCK = 1 << _PREFIX_SHIFT

# Pixels of span grid painted per loop step (a few images: 2 MiB of float32,
# which stays in the CPU caches; see _paint_spans).
CHUNK_PIXELS = 1 << 19

# A capsule shorter than this has no band (its end discs cover it), and a
# direction within this of an axis counts as on the axis (see
# _capsule_coefficients).
_SHORT = 1e-3
_FLAT = 1e-6

# Histogram bins used to find a noise quantile: the pixels of the one bin that
# straddles the threshold (about H * W / 4096 of them) are split in raster order.
_QUANTILE_BINS = 4096


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


def fill_capsules(capsules, height, width, grow):
    """Union of capsules: pixels whose centre lies within `radius` of a segment.

    `capsules` maps ax, ay, bx, by, radius and active to `(n, C)` tensors;
    `grow` (`(n,)` or None) is added to every radius. Only the rows a capsule
    crosses are worked on: a ragged list of (capsule, row) pairs, so the cost
    follows the painted area. On each of its rows a capsule covers one span
    (it is convex), the union of the spans of its two end discs and of the
    band between them; `_paint_spans` fills the spans.

    Example:

    >>> dot = {key: tf.constant([[4.0]]) for key in ("ax", "ay", "bx", "by")}
    >>> dot.update(radius=tf.constant([[1.0]]), active=tf.constant([[True]]))
    >>> int(tf.reduce_sum(fill_capsules(dot, 9, 9, None)))  # a disc of radius 1
    5
    >>> int(tf.reduce_sum(fill_capsules(dot, 9, 9, tf.constant([1.0]))))  # radius 2
    13
    """
    keys = ("ax", "ay", "bx", "by", "radius")
    ax, ay, bx, by, radius = (tf.reshape(capsules[key], [-1]) for key in keys)
    n = tf.shape(capsules["radius"])[0]
    per_image = tf.shape(capsules["radius"])[1]
    if grow is not None:
        radius = radius + tf.repeat(grow, per_image)
    top = tf.maximum(tf.math.ceil(tf.minimum(ay, by) - radius), 0)
    bottom = tf.minimum(tf.floor(tf.maximum(ay, by) + radius), height - 1)
    crossed = tf.reshape(capsules["active"], [-1]) & (radius >= 0) & (bottom >= top)
    rows = tf.where(crossed, tf.cast(bottom - top, tf.int32) + 1, 0)
    first_pair = tf.cumsum(rows, exclusive=True)
    total = tf.reduce_sum(rows)
    # Counting the capsules that start at or before each pair finds its owner
    # (capsules crossing no row start where the next one does).
    owner = tf.cumsum(tf.math.bincount(first_pair, minlength=total, maxlength=total)) - 1
    capsule_image = tf.repeat(tf.range(n), per_image)
    row_offset = capsule_image * height + tf.cast(top, tf.int32) - first_pair
    image_row = tf.gather(row_offset, owner) + tf.range(total)
    y = tf.cast(image_row % height, tf.float32)

    # Per capsule, the coefficients of its spans as linear functions of the
    # row, so that each pair costs a few vectorised operations on `(2, P)`
    # tensors: the two end discs, or the band's two conditions, side by side.
    # (Gathering rows and transposing is several times faster than gathering
    # columns.)
    per_pair = tf.transpose(tf.gather(_capsule_coefficients(ax, ay, bx, by, radius), owner))
    centre_x, centre_y, radius_squared, slope, base, low, high, ends = tf.unstack(
        tf.reshape(per_pair, [8, 2, -1])
    )
    # End discs: x within sqrt(r^2 - dy^2) of the centre.
    dy = y - centre_y
    half_squared = radius_squared - dy * dy
    half = tf.where(half_squared < 0, -_FAR, tf.sqrt(tf.maximum(half_squared, 0.0)))
    left = tf.reduce_min(centre_x - half, axis=0)
    right = tf.reduce_max(centre_x + half, axis=0)
    # Band: x within `radius` of the segment's line (first row) and projecting
    # into the segment (second row).
    line = slope * y + base
    band_left = tf.reduce_max(line + low, axis=0)
    band_right = tf.reduce_min(line + high, axis=0)
    # An empty band must not widen the discs' span. A vertical band ends at
    # the segment's ends: `ends` holds (top, -bottom).
    beyond = tf.reduce_any(tf.stack([y, -y]) < ends, axis=0)
    empty = (band_left > band_right) | beyond
    left = tf.minimum(left, tf.where(empty, _FAR, band_left))
    right = tf.maximum(right, tf.where(empty, -_FAR, band_right))
    start = tf.cast(tf.clip_by_value(tf.math.ceil(left), 0, width), tf.int32)
    stop = tf.cast(tf.clip_by_value(tf.floor(right) + 1, 0, width), tf.int32)
    # An empty span starts where it stops: its two marks cancel.
    stop = tf.maximum(stop, start)
    pair_bounds = tf.concat([first_pair, total[None]], 0)
    return _paint_spans(n, height, width, image_row, start, stop, pair_bounds, per_image)


def _capsule_coefficients(ax, ay, bx, by, radius):
    """`(C, 16)` span coefficients of capsules, columns in pairs (see `fill_capsules`).

    For a row y, a capsule's band spans the x with `slope * y + base + low <= x
    <= slope * y + base + high` for both columns of the pair. The first is the
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
    columns = [
        ax, bx, ay, by, squared, squared,
        across_slope, along_slope, across_base, along_base,
        -across_half, along_low, across_half, along_high,
        band_top, -band_bottom,
    ]  # fmt: skip
    # (Stacking rows and transposing is faster than stacking columns.)
    return tf.transpose(tf.stack(columns))


def _paint_spans(n, height, width, image_row, start, stop, pair_bounds, per_image):
    """Masks `(n, H, W, 1)` covering pixels [start, stop) of rows `image_row`.

    `image_row` is image * H + row; spans are listed image by image, image i's
    from `pair_bounds[i * per_image]` on. Each span adds 1 where it starts and
    -1 where it stops in a grid of rows, and prefix sums along the rows count
    the spans over each pixel. The prefix sums are exact small integers: a
    matmul with a triangle of ones within blocks of `_PREFIX_BLOCK` columns,
    after each block's first pixel got the carry of the marks left of it. The
    grid is summed a few images at a time, so that it stays in the CPU caches
    from the marks to the masks; its pixels are touched a fixed number of
    times whatever the number of spans.
    """
    blocks = -(-width // _PREFIX_BLOCK)
    grid_width = blocks * _PREFIX_BLOCK
    base = image_row * grid_width
    start_mark = tf.ones_like(start, tf.float32)
    stop_mark = -start_mark
    if grid_width == width:
        # A span that reaches the row's end has no stop mark in the row (an
        # empty span there has neither).
        start_mark = tf.cast(start < width, tf.float32)
        stop_mark = -tf.cast(stop < width, tf.float32)
        start = tf.minimum(start, width - 1)
        stop = tf.minimum(stop, width - 1)
    start_index = base + start
    stop_index = base + stop
    # Carry into each block: the marks left of it in its row.
    marks = tf.math.unsorted_segment_sum(
        tf.concat([start_mark, stop_mark], 0),
        tf.bitwise.right_shift(tf.concat([start_index, stop_index], 0), _PREFIX_SHIFT),
        n * height * blocks,
    )
    before = tf.linalg.band_part(tf.ones([blocks, blocks]), 0, -1) - tf.eye(blocks)
    carry = tf.reshape(tf.reshape(marks, [-1, blocks]) @ before, [-1])
    inclusive = tf.linalg.band_part(tf.ones([_PREFIX_BLOCK, _PREFIX_BLOCK]), 0, -1)

    per_chunk = max(1, CHUNK_PIXELS // (height * grid_width))
    chunks = (n + per_chunk - 1) // per_chunk
    image_bounds = tf.minimum(tf.range(chunks + 1) * per_chunk, n)
    span_bounds = tf.gather(pair_bounds, image_bounds * per_image)
    chunk_blocks = per_chunk * height * blocks

    def paint(chunk, painted):
        first, last = image_bounds[chunk], image_bounds[chunk + 1]
        begin, end = span_bounds[chunk], span_bounds[chunk + 1]
        images = last - first
        offset = first * height * grid_width
        block_count = images * height * blocks
        grid = tf.math.unsorted_segment_sum(
            tf.concat(
                [
                    start_mark[begin:end],
                    stop_mark[begin:end],
                    carry[chunk * chunk_blocks : chunk * chunk_blocks + block_count],
                ],
                0,
            ),
            tf.concat(
                [
                    start_index[begin:end] - offset,
                    stop_index[begin:end] - offset,
                    tf.range(block_count) * _PREFIX_BLOCK,
                ],
                0,
            ),
            block_count * _PREFIX_BLOCK,
        )
        cover = tf.minimum(tf.reshape(grid, [-1, _PREFIX_BLOCK]) @ inclusive, 1.0)
        cover = tf.reshape(cover, [images, height, grid_width])
        if grid_width != width:
            cover = cover[:, :, :width]
        return chunk + 1, painted.write(chunk, cover)

    masks = tf.TensorArray(
        tf.float32, size=chunks, element_shape=[None, height, width], infer_shape=False
    )
    _, masks = tf.while_loop(lambda chunk, _: chunk < chunks, paint, (0, masks))
    return masks.concat()[..., None]


def top_pixels(field, counts):
    """Masks of the `counts[b]` highest pixels of each `field[b]`, exactly.

    A per-image histogram finds the level that straddles the threshold; the
    pixels above it are holes and the missing ones come from that level in
    raster order (a sort of every pixel would cost several times more). The
    straddling pixels are few (about H * W / `_QUANTILE_BINS` per image), so
    they are listed rather than ranked over the whole image.

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
    histogram = tf.math.bincount(
        tf.reshape(level, [n, -1]), minlength=_QUANTILE_BINS, maxlength=_QUANTILE_BINS, axis=-1
    )
    at_or_above = tf.cumsum(histogram, axis=1, reverse=True)
    # at_or_above falls with the level: the threshold is the last level that
    # still has enough pixels at or above it.
    enough = at_or_above >= counts[:, None]
    threshold = tf.reduce_sum(tf.cast(enough, tf.int32), axis=1) - 1
    above_count = tf.gather(
        tf.pad(at_or_above, [[0, 0], [0, 1]]), threshold + 1, axis=1, batch_dims=1
    )
    missing = counts - above_count
    above = tf.cast(level > threshold[:, None, None], tf.float32)
    # The straddling pixels in raster order, image by image; each image takes
    # its first `missing` ones.
    straddling = tf.where(tf.equal(level, threshold[:, None, None]))
    image = tf.cast(straddling[:, 0], tf.int32)
    listed = tf.math.bincount(image, minlength=n, maxlength=n)
    rank = tf.range(tf.shape(image)[0]) - tf.gather(tf.cumsum(listed, exclusive=True), image)
    chosen = tf.boolean_mask(straddling, rank < tf.gather(missing, image))
    masks = tf.tensor_scatter_nd_update(above, chosen, tf.ones(tf.shape(chosen)[:1]))
    return masks[..., None]
