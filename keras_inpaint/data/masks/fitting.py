"""Hole-ratio fitting of the shape kinds: candidate masks, then a bisected margin.

With `hole_ratio=(lo, hi)` every mask's hole pixel count is between
`ceil(lo * H * W)` and `floor(hi * H * W)`. The shape kinds
(`random_boxes`, `irregular_strokes`, `free_form`) draw `num_candidates`
candidate masks per image and keep the first one in range; an image with no
candidate in range keeps its first candidate with every shape grown or shrunk
by one common margin (box sides move out or in, stroke radii change), found by
bisection, and the last partial ring of pixels added in raster order so that
the count lands exactly on the nearest bound. Such a mask can have shapes
outside the size ranges asked for. (`random_region` meets the range by
construction, with `raster.top_pixels`.)

Imports `raster` and `checks` only.

Example: one 8x8 box per image, grown to a quarter of a 32x32 image.

>>> def draw(n, seed):
...     corner = tf.fill([n, 1], 4)
...     return {"top": corner, "left": corner, "bottom": corner + 8,
...             "right": corner + 8, "active": tf.ones([n, 1], bool)}
>>> def render(boxes, grow):
...     return raster.fill_boxes(boxes, 32, 32, grow)
>>> masks = shape_masks(
...     draw, render, 2, 32, 32, tf.constant([1, 2]), (0.25, 0.25), 1, margins=(-17.0, 32.0)
... )
>>> tf.reduce_sum(masks, axis=[1, 2, 3]).numpy().tolist()
[256.0, 256.0]
"""

import tensorflow as tf

from keras_inpaint.data.masks import checks, raster

# Fixing a hole ratio bisects a margin added to every shape: 8 steps narrow a
# shrinking margin's bracket 256 times, and a growing margin (bisected
# geometrically from _GROW_RESOLUTION up) to within 4 %, so the ring of pixels
# left to split in raster order is thin.
_GROW_STEPS = 8
_GROW_RESOLUTION = 0.25


def _hole_counts(masks):
    return tf.cast(tf.reduce_sum(masks, axis=[1, 2, 3]), tf.int32)


def _gather_params(params, indices):
    return tf.nest.map_structure(lambda tensor: tf.gather(tensor, indices), params)


def shape_masks(draw, render, batch_size, height, width, seed, hole_ratio, num_candidates, margins):
    """Draws and renders shapes, then meets `hole_ratio` if one is given.

    `draw(n, seed)` returns a structure of `(n, ...)` tensors; `render(params,
    grow)` turns it into masks, with every shape grown by the per-image margin
    `grow` (`(n,)` pixels, negative shrinks) unless it is None. `margins` holds
    a margin that empties every mask and one that fills the image. `seed`
    is the stateless seed `draw` gets; with a `hole_ratio` it draws
    `num_candidates * batch_size` shapes, candidate by candidate.

    The module docstring has an example.
    """
    if hole_ratio is None:
        return render(draw(batch_size, seed), None)
    count_low, count_high = checks.hole_count_range(hole_ratio, height * width)
    checks.positive_int(num_candidates, "num_candidates")
    params = draw(batch_size * num_candidates, seed)
    masks = render(params, None)
    counts = tf.reshape(_hole_counts(masks), tf.stack([num_candidates, batch_size]))
    fits = (counts >= count_low) & (counts <= count_high)
    candidate = tf.range(num_candidates)[:, None]
    first_fit = tf.reduce_min(tf.where(fits, candidate, num_candidates), axis=0)
    chosen = tf.where(first_fit < num_candidates, first_fit, 0) * batch_size + tf.range(batch_size)
    params = _gather_params(params, chosen)
    masks = tf.gather(masks, chosen)
    misfits = first_fit == num_candidates

    def refit():
        # Every image is refitted, so that every shape is fixed (XLA compiles
        # it); each image's bisection is its own, and the fitting ones keep
        # their candidate.
        current = _hole_counts(masks)
        targets = tf.clip_by_value(current, count_low, count_high)
        refitted = _grow_to_counts(render, params, current, targets, margins)
        return tf.where(misfits[:, None, None, None], refitted, masks)

    return tf.cond(tf.reduce_any(misfits), refit, lambda: masks)


def _grow_to_counts(render, params, counts, targets, margins):
    """Masks with exactly `targets` holes: every shape grown by a bisected margin.

    Masks with too many holes bisect a negative margin (shapes shrink) between
    `margins[0]` and 0; masks with too few bisect a positive one between 0 and
    `margins[1]`, geometrically, because most need a few pixels and a large
    margin costs wider row windows. The bisection keeps count(low) <= target <=
    count(high); the missing pixels then come from the ring between the two, in
    raster order.
    """
    grow = counts < targets

    def bisect(low, high):
        middle = tf.where(grow, tf.sqrt(tf.maximum(low, _GROW_RESOLUTION) * high), (low + high) / 2)
        small = _hole_counts(render(params, middle)) <= targets
        return tf.where(small, middle, low), tf.where(small, high, middle)

    low, high = tf.while_loop(
        lambda low, high: True,
        bisect,
        (tf.where(grow, 0.0, margins[0]), tf.where(grow, margins[1], 0.0)),
        maximum_iterations=_GROW_STEPS,
    )
    inner = render(params, low)[..., 0]
    ring = render(params, high)[..., 0] * (1 - inner)
    missing = tf.cast(targets - _hole_counts(inner[..., None]), tf.float32)
    extra = ring * tf.cast(raster.raster_rank(ring) <= missing[:, None, None], tf.float32)
    return (inner + extra)[..., None]
