"""The generated mask kinds: one function per kind, and the kind table.

Every kind is a function `kind(batch_size, height, width, seed, **options)`
(`center_box` takes no seed) returning float32 masks `(B, H, W, 1)`, 1 = hole
(see the package docstring for tracing, XLA and seeds). `GENERATORS` lists
them by kind name for `spec.make_mask_fn`, and `OPTION_CHECKS` holds the
size-free check of every option they take, which a spec's options pass before
any image size is known. Kinds, with the papers they come from:

- `center_box`: the centred square of Context Encoders
  (Pathak et al., https://arxiv.org/abs/1604.07379).
- `random_boxes`: axis-aligned blocks (Context Encoders' random blocks, GLCIC).
- `random_region`: Context Encoders' "random region": upscaled uniform noise
  thresholded to a hole fraction.
- `irregular_strokes`: random lines, circles and elliptic arcs, the OpenCV
  recipe used with partial convolutions (Liu et al.,
  https://arxiv.org/abs/1804.07723).
- `free_form`: DeepFill v2 / PEPSI brush strokes (Yu et al.,
  https://arxiv.org/abs/1806.03589).

`hole_ratio` (see `fitting`) bounds the hole fraction of every mask. Imports
`fitting`, `raster`, `draws` and `checks`.

Example:

>>> list(GENERATORS)[:3]
['center_box', 'random_boxes', 'random_region']
>>> OPTION_CHECKS["num_boxes"]([1, 2], "num_boxes")
(1, 2)
>>> GENERATORS["random_boxes"](2, 32, 32, seed=(1, 2)).shape
TensorShape([2, 32, 32, 1])
"""

import math

import tensorflow as tf

from keras_inpaint.data.masks import checks, draws, fitting, raster

# Lengths and widths of strokes are given for this image side and scale with
# the image: a 512x512 mask gets strokes twice as long and twice as thick.
_REFERENCE_SIDE = 256


def _stroke_scale(height, width):
    """Stroke lengths and widths given for 256x256 times this are in pixels."""
    return (height + width) / (2 * _REFERENCE_SIDE)


def _rows_spanned(extent):
    """Most image rows a shape `extent` pixels tall covers (one more for float rounding)."""
    return math.floor(extent) + 2


def center_box(batch_size, height, width, box_height=None, box_width=None):
    """Masks whose hole is the centred box (Context Encoders' center region).

    Deterministic: no seed. The box starts at row `(height - box_height) // 2`
    and column `(width - box_width) // 2`, so 64x64 of 128x128 covers rows and
    columns 32..95 exactly.

    Args:
        batch_size: Python int or scalar int tensor, number of masks.
        height: image height in pixels.
        width: image width in pixels.
        box_height: hole height; an int is pixels, a float in (0, 1] a fraction
            of `height`. Defaults to half the height.
        box_width: hole width, like `box_height`. Defaults to half the width.

    Returns:
        float32 tensor `(batch_size, height, width, 1)`, 1 = hole.

    Example:

    >>> masks = center_box(2, 128, 128)
    >>> masks.shape
    TensorShape([2, 128, 128, 1])
    >>> float(tf.reduce_sum(masks[0]))
    4096.0
    """
    batch_size = checks.batch_size(batch_size)
    height, width = checks.image_size(height, width)
    box_height = (
        height // 2 if box_height is None else checks.side_pixels(box_height, height, "box_height")
    )
    box_width = (
        width // 2 if box_width is None else checks.side_pixels(box_width, width, "box_width")
    )
    top = (height - box_height) // 2
    left = (width - box_width) // 2
    rows = tf.range(height)
    cols = tf.range(width)
    in_rows = (rows >= top) & (rows < top + box_height)
    in_cols = (cols >= left) & (cols < left + box_width)
    box = tf.cast(in_rows[:, None] & in_cols[None, :], tf.float32)
    return tf.tile(box[None, :, :, None], tf.stack([batch_size, 1, 1, 1]))


def random_boxes(
    batch_size,
    height,
    width,
    seed,
    num_boxes=(1, 1),
    box_size=(0.25, 0.5),
    hole_ratio=None,
    num_candidates=4,
):
    """Masks made of random axis-aligned boxes (random blocks, GLCIC holes).

    Each image gets a number of boxes drawn uniformly in `num_boxes`; each box
    has its height and width drawn independently and uniformly in `box_size`
    and lies fully inside the image. Boxes may overlap.

    Args:
        batch_size: Python int or scalar int tensor, number of masks.
        height: image height in pixels.
        width: image width in pixels.
        seed: stateless seed, int tensor of shape `[2]`.
        num_boxes: int or inclusive `(low, high)` range of boxes per image, at
            least 1.
        box_size: inclusive `(low, high)` range of box sides: floats in (0, 1]
            are fractions of the image side, ints are pixels.
        hole_ratio: optional `(low, high)` range of the hole fraction of each
            mask (see `fitting` for how it is met).
        num_candidates: candidate masks drawn per image when `hole_ratio` is
            given.

    Returns:
        float32 tensor `(batch_size, height, width, 1)`, 1 = hole.

    Example:

    >>> masks = random_boxes(4, 64, 64, seed=(1, 2), num_boxes=(1, 3), box_size=(8, 24))
    >>> masks.shape
    TensorShape([4, 64, 64, 1])
    """
    batch_size = checks.batch_size(batch_size)
    height, width = checks.image_size(height, width)
    seed = checks.seed(seed)
    count_low, count_high = checks.count_range(num_boxes, "num_boxes")
    box_heights = checks.side_pixel_range(box_size, height, "box_size")
    box_widths = checks.side_pixel_range(box_size, width, "box_size")

    def draw(n, draw_seed):
        seeds = draws.split_seed(draw_seed, 5)
        count = draws.randint([n, 1], seeds[0], count_low, count_high)
        box_height = draws.randint([n, count_high], seeds[1], *box_heights)
        box_width = draws.randint([n, count_high], seeds[2], *box_widths)
        top = draws.uniform_index([n, count_high], seeds[3], height - box_height + 1)
        left = draws.uniform_index([n, count_high], seeds[4], width - box_width + 1)
        return {
            "top": top,
            "left": left,
            "bottom": top + box_height,
            "right": left + box_width,
            "active": tf.range(count_high) < count,
        }

    def render(boxes, grow):
        return raster.fill_boxes(boxes, height, width, grow)

    return fitting.shape_masks(
        draw,
        render,
        batch_size,
        height,
        width,
        seed,
        hole_ratio,
        num_candidates,
        margins=(-(max(height, width) / 2 + 1), float(max(height, width))),
    )


def random_region(
    batch_size,
    height,
    width,
    seed,
    hole_ratio=(0.2, 0.3),
    noise_size=0.06,
):
    """Context Encoders' random-region masks: blobs of thresholded smooth noise.

    Uniform noise on a coarse grid is upscaled bicubically to the image and the
    highest values become the hole. Where the reference code thresholds at a
    fixed level and rejects crops until the hole covers 20-30 %, this draws a
    target pixel count uniformly in the `hole_ratio` range and thresholds each
    image at that quantile, so every mask meets the range exactly, without
    rejection.

    Args:
        batch_size: Python int or scalar int tensor, number of masks.
        height: image height in pixels.
        width: image width in pixels.
        seed: stateless seed, int tensor of shape `[2]`.
        hole_ratio: inclusive `(low, high)` range of the hole fraction.
        noise_size: resolution of the noise grid: a float in (0, 1] is noise
            cells per pixel (the reference's 0.06, blobs about 17 px across),
            an int >= 2 is cells per image side.

    Returns:
        float32 tensor `(batch_size, height, width, 1)`, 1 = hole; each mask's
        hole count is an integer in `[ceil(lo * H * W), floor(hi * H * W)]`.

    Example:

    >>> masks = random_region(4, 128, 128, seed=(1, 2))
    >>> ratios = tf.reduce_mean(masks, axis=[1, 2, 3])
    >>> bool(tf.reduce_all((ratios >= 0.2) & (ratios <= 0.3)))
    True
    """
    batch_size = checks.batch_size(batch_size)
    height, width = checks.image_size(height, width)
    seed = checks.seed(seed)
    if hole_ratio is None:
        raise ValueError("random_region needs a hole_ratio range, got None")
    count_low, count_high = checks.hole_count_range(hole_ratio, height * width)
    noise_rows = checks.noise_cells(noise_size, height)
    noise_cols = checks.noise_cells(noise_size, width)
    seeds = draws.split_seed(seed, 2)
    noise = draws.uniform([batch_size, noise_rows, noise_cols, 1], seeds[0], 0.0, 1.0)
    field = raster.resize_bicubic(noise, height, width)
    counts = count_low + draws.uniform_index([batch_size], seeds[1], count_high - count_low + 1)
    return raster.top_pixels(field, counts)


def irregular_strokes(
    batch_size,
    height,
    width,
    seed,
    num_shapes=(1, 20),
    thickness=(3, 15),
    hole_ratio=None,
    num_candidates=4,
):
    """Irregular masks of random lines, circles and elliptic arcs (PConv style).

    The OpenCV recipe used with partial convolutions: per image a random number
    of lines (ends anywhere in the image), filled circles, and elliptic arcs
    (centre in the image, semi-axes up to the image size, rotation and both arc
    angles in 3..180 degrees), each of a random thickness. Lines and arcs have
    round ends.

    `thickness` is given for a 256x256 image and scales with `(H + W) / 512`,
    as OpenCV's `0.03 * (H + W)` maximum does.

    Args:
        batch_size: Python int or scalar int tensor, number of masks.
        height: image height in pixels.
        width: image width in pixels.
        seed: stateless seed, int tensor of shape `[2]`.
        num_shapes: inclusive `(low, high)` count of each shape type (lines,
            circles, arcs) per image, low at least 1.
        thickness: `(low, high)` width of lines and arcs and radius of circles,
            in pixels at 256x256.
        hole_ratio: optional `(low, high)` range of the hole fraction of each
            mask (see `fitting` for how it is met).
        num_candidates: candidate masks drawn per image when `hole_ratio` is
            given.

    Returns:
        float32 tensor `(batch_size, height, width, 1)`, 1 = hole.

    Example:

    >>> masks = irregular_strokes(4, 64, 64, seed=(1, 2), num_shapes=(1, 4))
    >>> masks.shape
    TensorShape([4, 64, 64, 1])
    """
    batch_size = checks.batch_size(batch_size)
    height, width = checks.image_size(height, width)
    seed = checks.seed(seed)
    count_low, count_high = checks.count_range(num_shapes, "num_shapes")
    scale = _stroke_scale(height, width)
    thick_low, thick_high = (v * scale for v in checks.length_range(thickness, "thickness"))
    arc_segments = draws.arc_segments(max(height, width))
    # Lines cross the whole image; circles are as tall as their diameter; an
    # arc's segments as their chord and the brush.
    rows = (
        (count_high, height),
        (count_high, _rows_spanned(2 * thick_high)),
        (
            count_high * arc_segments,
            _rows_spanned(draws.arc_chord(max(height, width)) + thick_high),
        ),
    )

    def draw(n, draw_seed):
        seeds = draws.split_seed(draw_seed, 4)
        counts = draws.randint([n, 3], seeds[0], count_low, count_high)
        active = tf.range(count_high)[None, :] < counts[:, :, None]
        lines = draws.draw_lines(n, seeds[1], count_high, height, width, thick_low, thick_high)
        circles = draws.draw_circles(n, seeds[2], count_high, height, width, thick_low, thick_high)
        arcs = draws.draw_arcs(
            n, seeds[3], count_high, height, width, thick_low, thick_high, arc_segments
        )
        lines["active"] = active[:, 0]
        circles["active"] = active[:, 1]
        arcs["active"] = tf.repeat(active[:, 2], arc_segments, axis=1) & arcs.pop("used")
        return {key: tf.concat([lines[key], circles[key], arcs[key]], 1) for key in lines}

    def render(capsules, grow):
        return raster.fill_capsules(capsules, height, width, grow, rows)

    return fitting.shape_masks(
        draw,
        render,
        batch_size,
        height,
        width,
        seed,
        hole_ratio,
        num_candidates,
        margins=(-thick_high - 1.0, float(height + width)),
    )


def free_form(
    batch_size,
    height,
    width,
    seed,
    num_strokes=(3, 5),
    num_vertices=(5, 15),
    length=(20, 50),
    brush_width=(15, 30),
    max_angle=math.pi,
    hole_ratio=None,
    num_candidates=4,
):
    """Free-form brush-stroke masks (DeepFill v2 / PEPSI).

    Each stroke starts at a random pixel and walks `num_vertices` segments; a
    segment's direction is an angle drawn in `[0, max_angle]` (mirrored to
    `2 * pi - angle` on every other vertex, as in the reference algorithm) and
    its length is drawn in `length`. Vertices are clipped to the image, so a
    stroke never leaves it. The stroke is painted with one brush width drawn in
    `brush_width`, with round joints and ends.

    `length` and `brush_width` are given for a 256x256 image (the PEPSI
    reference values) and scale with `(H + W) / 512`: at 512x512 the strokes
    are twice as long and twice as thick.

    Args:
        batch_size: Python int or scalar int tensor, number of masks.
        height: image height in pixels.
        width: image width in pixels.
        seed: stateless seed, int tensor of shape `[2]`.
        num_strokes: inclusive `(low, high)` strokes per image, low at least 1.
        num_vertices: inclusive `(low, high)` segments per stroke, low at
            least 1.
        length: `(low, high)` segment length in pixels at 256x256.
        brush_width: `(low, high)` brush width in pixels at 256x256.
        max_angle: largest segment angle, radians.
        hole_ratio: optional `(low, high)` range of the hole fraction of each
            mask (see `fitting` for how it is met).
        num_candidates: candidate masks drawn per image when `hole_ratio` is
            given.

    Returns:
        float32 tensor `(batch_size, height, width, 1)`, 1 = hole.

    Example:

    >>> masks = free_form(4, 64, 64, seed=(0, 1), hole_ratio=(0.1, 0.2))
    >>> ratios = tf.reduce_mean(masks, axis=[1, 2, 3])
    >>> bool(tf.reduce_all((ratios >= 0.1) & (ratios <= 0.2)))
    True
    """
    batch_size = checks.batch_size(batch_size)
    height, width = checks.image_size(height, width)
    seed = checks.seed(seed)
    strokes_low, strokes_high = checks.count_range(num_strokes, "num_strokes")
    vertices_low, vertices_high = checks.count_range(num_vertices, "num_vertices")
    scale = _stroke_scale(height, width)
    length_low, length_high = (v * scale for v in checks.length_range(length, "length"))
    radius_low, radius_high = (
        v * scale / 2 for v in checks.length_range(brush_width, "brush_width")
    )
    max_angle = checks.non_negative(max_angle, "max_angle")
    # A segment is at most `length_high` tall, plus the brush.
    rows = ((strokes_high * vertices_high, _rows_spanned(length_high + 2 * radius_high)),)

    def draw(n, draw_seed):
        seeds = draws.split_seed(draw_seed, 7)
        shape = [n, strokes_high]
        strokes = draws.randint([n, 1], seeds[0], strokes_low, strokes_high)
        vertices = draws.randint(shape + [1], seeds[1], vertices_low, vertices_high)
        radius = draws.uniform(shape, seeds[2], radius_low, radius_high)
        angle = draws.uniform(shape + [vertices_high], seeds[3], 0.0, max_angle)
        # The reference mirrors every other angle so that the walk zigzags.
        angle = tf.where(tf.range(vertices_high) % 2 == 0, 2 * math.pi - angle, angle)
        step = draws.uniform(shape + [vertices_high], seeds[4], length_low, length_high)
        x = draws.uniform(shape, seeds[5], 0.0, width - 1.0)
        y = draws.uniform(shape, seeds[6], 0.0, height - 1.0)
        xs, ys = [x], [y]
        for vertex in range(vertices_high):
            x = tf.clip_by_value(x + step[..., vertex] * tf.sin(angle[..., vertex]), 0, width - 1)
            y = tf.clip_by_value(y + step[..., vertex] * tf.cos(angle[..., vertex]), 0, height - 1)
            xs.append(x)
            ys.append(y)
        xs = tf.stack(xs, axis=-1)
        ys = tf.stack(ys, axis=-1)
        active = (tf.range(strokes_high)[None, :, None] < strokes[..., None]) & (
            tf.range(vertices_high) < vertices
        )
        flat = [n, strokes_high * vertices_high]
        return {
            "ax": tf.reshape(xs[..., :-1], flat),
            "ay": tf.reshape(ys[..., :-1], flat),
            "bx": tf.reshape(xs[..., 1:], flat),
            "by": tf.reshape(ys[..., 1:], flat),
            "radius": tf.reshape(tf.repeat(radius[..., None], vertices_high, axis=-1), flat),
            "active": tf.reshape(active, flat),
        }

    def render(capsules, grow):
        return raster.fill_capsules(capsules, height, width, grow, rows)

    return fitting.shape_masks(
        draw,
        render,
        batch_size,
        height,
        width,
        seed,
        hole_ratio,
        num_candidates,
        margins=(-radius_high - 1.0, float(height + width)),
    )


# The kinds by name, in the order `MASK_KINDS` lists them.
GENERATORS = {
    "center_box": center_box,
    "random_boxes": random_boxes,
    "random_region": random_region,
    "irregular_strokes": irregular_strokes,
    "free_form": free_form,
}

# The size-free check of every generator option, run by make_mask_fn (which
# has no image size yet); the generators run the same checks on their
# arguments, then those that need the image size.
OPTION_CHECKS = {
    "box_height": checks.side_spec,
    "box_width": checks.side_spec,
    "box_size": checks.side_spec_range,
    "num_boxes": checks.count_range,
    "num_shapes": checks.count_range,
    "num_strokes": checks.count_range,
    "num_vertices": checks.count_range,
    "hole_ratio": checks.ratio_range,
    "noise_size": checks.noise_spec,
    "thickness": checks.length_range,
    "length": checks.length_range,
    "brush_width": checks.length_range,
    "max_angle": checks.non_negative,
    "num_candidates": checks.positive_int,
}
