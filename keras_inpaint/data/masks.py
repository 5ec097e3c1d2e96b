"""Hole masks for inpainting, as batched, seedable TensorFlow ops.

Every generator returns float32 masks of shape `(B, H, W, 1)` with **1 = hole
(to fill) and 0 = known**, the project's convention. They are pure TensorFlow
ops: they run eagerly, inside `tf.data.Dataset.map` and inside a `tf.function`
(for example a `train_step` on an accelerator), and one call makes the whole
batch. `batch_size` may be a Python int or a scalar int tensor (a dynamic batch
size is fine); `height` and `width` must be known when the function is traced
(Python ints or constant tensors). Strokes, random regions and hole-ratio
fitting have data-dependent shapes and do not compile with XLA: draw them in
`tf.data`, or in a `train_step` compiled with `jit_compile=False`.

Random generators take a stateless seed, an int32/int64 tensor (or pair) of
shape `[2]`: the same seed gives identical masks eagerly, in `tf.data` and in
a `tf.function`.

Kinds, with the papers they come from:

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
- `from_files` / `load_mask_file`: masks read from image files.

`make_mask_fn` builds any of them from a JSON-able spec (the `masks` entry of a
data spec).

Hole-ratio control (`hole_ratio=(lo, hi)`): the hole fraction of every mask is
in `[lo, hi]`, i.e. its hole pixel count is between `ceil(lo * H * W)` and
`floor(hi * H * W)`. `random_region` meets it by construction. The shape kinds
(`random_boxes`, `irregular_strokes`, `free_form`) draw `num_candidates`
candidate masks per image and keep the first one in range; an image with no
candidate in range keeps its first candidate with every shape grown or shrunk
by one common margin (box sides move out or in, stroke radii change), found by
bisection, and the last partial ring of pixels added in raster order so that
the count lands exactly on the nearest bound. Such a mask can have shapes
outside the size ranges asked for.

Rasterisation: strokes are unions of capsules (segments with a round brush).
Each capsule computes its span on each image row it crosses (a ragged list, so
the work follows the painted area), marks where the span starts and ends in a
`(B, H, W + 1)` grid with one segment sum, and prefix sums along the rows fill
the spans: the cost does not multiply `H * W` by the number of segments. Boxes
are one batched matmul of row and column indicators.
"""

import glob
import inspect
import math
import numbers
import os
from collections.abc import Mapping

import tensorflow as tf

MASK_KINDS = (
    "center_box",
    "random_boxes",
    "random_region",
    "irregular_strokes",
    "free_form",
    "files",
)

# Lengths and widths of strokes are given for this image side and scale with
# the image: a 512x512 mask gets strokes twice as long and twice as thick.
_REFERENCE_SIDE = 256

# A coordinate beyond any image: marks an empty span.
_FAR = 1e9

# Fixing a hole ratio bisects a margin added to every shape: 8 steps narrow a
# shrinking margin's bracket 256 times, and a growing margin (bisected
# geometrically from _GROW_RESOLUTION up) to within 4 %, so the ring of pixels
# left to split in raster order is thin.
_GROW_STEPS = 8
_GROW_RESOLUTION = 0.25

# Column block of the matmul prefix sums (see _prefix_sum_rows).
_PREFIX_BLOCK = 16

# Histogram bins used to find a noise quantile: the pixels of the one bin that
# straddles the threshold (about H * W / 4096 of them) are split in raster order.
_QUANTILE_BINS = 4096

# Largest deviation (pixels) of an elliptic arc from the polyline that draws it.
_ARC_TOLERANCE = 0.5


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
    batch_size = _batch_size(batch_size)
    height, width = _image_size(height, width)
    box_height = height // 2 if box_height is None else _side(box_height, height, "box_height")
    box_width = width // 2 if box_width is None else _side(box_width, width, "box_width")
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
            mask (see the module docstring for how it is met).
        num_candidates: candidate masks drawn per image when `hole_ratio` is
            given.

    Returns:
        float32 tensor `(batch_size, height, width, 1)`, 1 = hole.

    Example:

    >>> masks = random_boxes(4, 64, 64, seed=(1, 2), num_boxes=(1, 3), box_size=(8, 24))
    >>> masks.shape
    TensorShape([4, 64, 64, 1])
    """
    batch_size = _batch_size(batch_size)
    height, width = _image_size(height, width)
    seed = _seed(seed)
    count_low, count_high = _count_range(num_boxes, "num_boxes")
    box_heights = _side_range(box_size, height, "box_size")
    box_widths = _side_range(box_size, width, "box_size")

    def draw(n, draw_seed):
        seeds = _split_seed(draw_seed, 5)
        count = _randint([n, 1], seeds[0], count_low, count_high)
        box_height = _randint([n, count_high], seeds[1], *box_heights)
        box_width = _randint([n, count_high], seeds[2], *box_widths)
        top = _uniform_index([n, count_high], seeds[3], height - box_height + 1)
        left = _uniform_index([n, count_high], seeds[4], width - box_width + 1)
        return {
            "top": top,
            "left": left,
            "bottom": top + box_height,
            "right": left + box_width,
            "active": tf.range(count_high) < count,
        }

    def render(boxes, grow):
        return _fill_boxes(boxes, height, width, grow)

    return _shape_masks(
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
    batch_size = _batch_size(batch_size)
    height, width = _image_size(height, width)
    seed = _seed(seed)
    if hole_ratio is None:
        raise ValueError("random_region needs a hole_ratio range, got None")
    count_low, count_high = _hole_count_range(hole_ratio, height * width)
    noise_rows = _noise_cells(noise_size, height)
    noise_cols = _noise_cells(noise_size, width)
    seeds = _split_seed(seed, 2)
    noise = _uniform([batch_size, noise_rows, noise_cols, 1], seeds[0], 0.0, 1.0)
    field = tf.image.resize(noise, [height, width], method="bicubic")
    counts = count_low + _uniform_index([batch_size], seeds[1], count_high - count_low + 1)
    return _top_pixels(field, counts)


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
            mask (see the module docstring for how it is met).
        num_candidates: candidate masks drawn per image when `hole_ratio` is
            given.

    Returns:
        float32 tensor `(batch_size, height, width, 1)`, 1 = hole.

    Example:

    >>> masks = irregular_strokes(4, 64, 64, seed=(1, 2), num_shapes=(1, 4))
    >>> masks.shape
    TensorShape([4, 64, 64, 1])
    """
    batch_size = _batch_size(batch_size)
    height, width = _image_size(height, width)
    seed = _seed(seed)
    count_low, count_high = _count_range(num_shapes, "num_shapes")
    scale = _stroke_scale(height, width)
    thick_low, thick_high = (v * scale for v in _length_range(thickness, "thickness"))
    arc_segments = _arc_segments(max(height, width))

    def draw(n, draw_seed):
        seeds = _split_seed(draw_seed, 4)
        counts = _randint([n, 3], seeds[0], count_low, count_high)
        active = tf.range(count_high)[None, :] < counts[:, :, None]
        lines = _draw_lines(n, seeds[1], count_high, height, width, thick_low, thick_high)
        circles = _draw_circles(n, seeds[2], count_high, height, width, thick_low, thick_high)
        arcs = _draw_arcs(
            n, seeds[3], count_high, height, width, thick_low, thick_high, arc_segments
        )
        lines["active"] = active[:, 0]
        circles["active"] = active[:, 1]
        arcs["active"] = tf.repeat(active[:, 2], arc_segments, axis=1)
        return {key: tf.concat([lines[key], circles[key], arcs[key]], 1) for key in lines}

    def render(capsules, grow):
        return _fill_capsules(capsules, height, width, grow)

    return _shape_masks(
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
            mask (see the module docstring for how it is met).
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
    batch_size = _batch_size(batch_size)
    height, width = _image_size(height, width)
    seed = _seed(seed)
    strokes_low, strokes_high = _count_range(num_strokes, "num_strokes")
    vertices_low, vertices_high = _count_range(num_vertices, "num_vertices")
    scale = _stroke_scale(height, width)
    length_low, length_high = (v * scale for v in _length_range(length, "length"))
    radius_low, radius_high = (v * scale / 2 for v in _length_range(brush_width, "brush_width"))
    max_angle = _non_negative(max_angle, "max_angle")

    def draw(n, draw_seed):
        seeds = _split_seed(draw_seed, 7)
        shape = [n, strokes_high]
        strokes = _randint([n, 1], seeds[0], strokes_low, strokes_high)
        vertices = _randint(shape + [1], seeds[1], vertices_low, vertices_high)
        radius = _uniform(shape, seeds[2], radius_low, radius_high)
        angle = _uniform(shape + [vertices_high], seeds[3], 0.0, max_angle)
        # The reference mirrors every other angle so that the walk zigzags.
        angle = tf.where(tf.range(vertices_high) % 2 == 0, 2 * math.pi - angle, angle)
        step = _uniform(shape + [vertices_high], seeds[4], length_low, length_high)
        x = _uniform(shape, seeds[5], 0.0, width - 1.0)
        y = _uniform(shape, seeds[6], 0.0, height - 1.0)
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
        return _fill_capsules(capsules, height, width, grow)

    return _shape_masks(
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


def load_mask_file(path, height=None, width=None):
    """Reads one mask image file: nonzero (or > 127) = hole.

    PNG, JPEG, BMP and GIF (first frame), any channel count. The hole is
    where the brightest colour channel (alpha is ignored) is above 127, or,
    for files whose values are all 0 or 1, where it is 1. The file is read
    eagerly, even when called while a `tf.function` is traced, and the result
    is a constant.

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
            image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
        except tf.errors.OpError as error:
            raise ValueError(
                f"{path} is not an image (cannot decode it as PNG, JPEG, BMP or GIF)"
            ) from error
        colour = image[..., :1] if image.shape[-1] <= 2 else image[..., :3]
        level = tf.reduce_max(colour, axis=-1, keepdims=True)
        threshold = 0 if int(tf.reduce_max(level)) <= 1 else 127
        mask = tf.cast(level > threshold, tf.float32)
        if height is None and width is None:
            return mask
        size = [
            mask.shape[0] if height is None else _static_int(height, "height"),
            mask.shape[1] if width is None else _static_int(width, "width"),
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
    height, width = _image_size(height, width)
    if isinstance(paths, str | os.PathLike):
        pattern = os.fspath(paths)
        paths = sorted(glob.glob(pattern, recursive=True))
        if not paths:
            raise FileNotFoundError(f"no mask files match {pattern!r}")
    if len(paths) == 0:
        raise ValueError("from_files needs at least one path")
    with tf.init_scope():
        return tf.stack([load_mask_file(path, height, width) for path in paths])


def make_mask_fn(spec):
    """Builds a mask function from a spec (the `masks` entry of a data spec).

    `spec["kind"]` is one of `MASK_KINDS`; the other keys are the keyword
    arguments of that generator (JSON lists are accepted for ranges). The kind
    `"files"` takes one key, `"pattern"`, a glob of mask files; its function
    picks one file per image by the seed and resizes it. The files are read
    once per image size, when the function is first called (or traced).

    Args:
        spec: mapping with `"kind"` and the generator's options.

    Returns:
        `fn(batch_size, height, width, seed)` returning float32 masks
        `(batch_size, height, width, 1)`; `center_box` ignores the seed.

    Raises:
        ValueError: unknown kind or option (the message lists the valid ones).
        FileNotFoundError: a `"files"` pattern matches nothing.

    Example:

    >>> mask_fn = make_mask_fn({"kind": "random_boxes", "num_boxes": [1, 2], "box_size": [16, 32]})
    >>> mask_fn(8, 64, 64, tf.constant([1, 2])).shape
    TensorShape([8, 64, 64, 1])
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"a mask spec must be a mapping with a 'kind', got {spec!r}")
    options = {key: _from_json(value) for key, value in spec.items() if key != "kind"}
    kind = spec.get("kind")
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; valid kinds: {', '.join(MASK_KINDS)}")
    if kind == "files":
        _check_options(kind, options, ("pattern",))
        if "pattern" not in options:
            raise ValueError("mask kind 'files' needs a 'pattern' (a glob of mask files)")
        return _files_mask_fn(options["pattern"])
    generator = _GENERATORS[kind]
    positional = ("batch_size", "height", "width", "seed")
    parameters = inspect.signature(generator).parameters
    _check_options(kind, options, tuple(name for name in parameters if name not in positional))
    for name, value in options.items():
        if value is not None or parameters[name].default is not None:
            _OPTION_CHECKS[name](value, name)
    if kind == "center_box":
        return lambda batch_size, height, width, seed=None: center_box(
            batch_size, height, width, **options
        )
    return lambda batch_size, height, width, seed: generator(
        batch_size, height, width, seed, **options
    )


_GENERATORS = {
    "center_box": center_box,
    "random_boxes": random_boxes,
    "random_region": random_region,
    "irregular_strokes": irregular_strokes,
    "free_form": free_form,
}


# === Spec helpers ===


def _from_json(value):
    """JSON gives lists where the generators document tuples."""
    if isinstance(value, list):
        return tuple(_from_json(item) for item in value)
    return value


def _check_options(kind, options, valid):
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for mask kind {kind!r}; "
            f"valid options: {', '.join(valid)}"
        )


def _files_mask_fn(pattern):
    paths = sorted(glob.glob(os.fspath(pattern), recursive=True))
    if not paths:
        raise FileNotFoundError(f"no mask files match {pattern!r}")
    banks = {}

    def mask_fn(batch_size, height, width, seed):
        batch_size = _batch_size(batch_size)
        height, width = _image_size(height, width)
        if (height, width) not in banks:
            banks[(height, width)] = from_files(paths, height, width)
        picks = _uniform_index([batch_size], _seed(seed), len(paths))
        return tf.gather(banks[(height, width)], picks)

    return mask_fn


# === Argument checks ===


def _static_int(value, name):
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


def _image_size(height, width):
    return _static_int(height, "height"), _static_int(width, "width")


def _batch_size(batch_size):
    if not tf.is_tensor(batch_size):
        return _static_int(batch_size, "batch_size")
    if batch_size.shape.rank != 0 or not batch_size.dtype.is_integer:
        raise ValueError(f"batch_size must be a scalar int tensor, got {batch_size!r}")
    static = tf.get_static_value(batch_size)
    if static is not None:
        _static_int(static, "batch_size")
    return tf.cast(batch_size, tf.int32)


def _seed(seed):
    seed = tf.convert_to_tensor(seed)
    if seed.dtype not in (tf.int32, tf.int64) or not seed.shape.is_compatible_with([2]):
        raise ValueError(f"seed must be an int32/int64 tensor of shape [2], got {seed!r}")
    return seed


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


def _count_range(value, name):
    return _range(value, name, integer=True, minimum=1)


def _length_range(value, name):
    return _range(value, name, minimum=0)


def _ratio_range(value, name):
    return _range(value, name, minimum=0, maximum=1)


def _single_number(value, name, integer=False, minimum=None):
    if _plain_number(value) is None:
        raise ValueError(f"{name} must be a single number, got {value!r}")
    return _range(value, name, integer=integer, minimum=minimum)[0]


def _positive_int(value, name):
    return _single_number(value, name, integer=True, minimum=1)


def _non_negative(value, name):
    return _single_number(value, name, minimum=0)


def _side_spec(value, name):
    """A box side: an int is pixels (>= 1), a float a fraction of the image side in (0, 1]."""
    value = _plain_number(value)
    if isinstance(value, float):
        if not 0 < value <= 1:
            raise ValueError(f"{name} as a fraction must be in (0, 1], got {value}")
    elif not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int (pixels) or a fraction, got {value!r}")
    return value


def _side_spec_range(value, name):
    low, high = _pair(value, name)
    if type(low) is not type(high):
        raise ValueError(f"{name} must be two ints (pixels) or two floats (fractions), got {value}")
    _side_spec(low, name)
    _side_spec(high, name)
    return _range(value, name)


def _side(value, side, name):
    """A box side in pixels for an image side of `side` pixels."""
    value = _side_spec(value, name)
    if isinstance(value, float):
        return max(1, round(value * side))
    if value > side:
        raise ValueError(f"{name} {value} is bigger than the image side ({side} px)")
    return value


def _side_range(value, side, name):
    low, high = _side_spec_range(value, name)
    return _side(low, side, name), _side(high, side, name)


def _noise_spec(value, name):
    value = _plain_number(value)
    fraction = isinstance(value, float) and 0 < value <= 1
    cells = isinstance(value, int) and value >= 2
    if not (fraction or cells):
        raise ValueError(
            f"{name} must be a float in (0, 1] (cells per pixel) or an int >= 2 (cells per "
            f"side), got {value!r}"
        )
    return value


def _noise_cells(noise_size, side):
    noise_size = _noise_spec(noise_size, "noise_size")
    if isinstance(noise_size, float):
        return max(2, round(noise_size * side))
    return noise_size


# Size-free checks of every generator option, shared by the generators and
# make_mask_fn (which has no image size yet).
_OPTION_CHECKS = {
    "box_height": _side_spec,
    "box_width": _side_spec,
    "box_size": _side_spec_range,
    "num_boxes": _count_range,
    "num_shapes": _count_range,
    "num_strokes": _count_range,
    "num_vertices": _count_range,
    "hole_ratio": _ratio_range,
    "noise_size": _noise_spec,
    "thickness": _length_range,
    "length": _length_range,
    "brush_width": _length_range,
    "max_angle": _non_negative,
    "num_candidates": _positive_int,
}


def _hole_count_range(hole_ratio, num_pixels):
    low, high = _ratio_range(hole_ratio, "hole_ratio")
    # Rounding first keeps 0.1 * 100 from becoming 11 pixels.
    count_low = math.ceil(round(low * num_pixels, 6))
    count_high = math.floor(round(high * num_pixels, 6))
    if count_low > count_high:
        raise ValueError(
            f"hole_ratio {hole_ratio} allows no whole number of hole pixels out of {num_pixels}"
        )
    return count_low, count_high


# === Random draws ===


# Named rather than "auto_select", which lets each device pick: the same seed
# must give the same masks on CPU and GPU.
_RNG = "philox"


def _split_seed(seed, count):
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=count, alg=_RNG))


def _uniform(shape, seed, low, high):
    return tf.random.stateless_uniform(shape, seed, minval=low, maxval=high, alg=_RNG)


def _randint(shape, seed, low, high):
    """Integers uniform in [low, high], inclusive."""
    return tf.random.stateless_uniform(
        shape, seed, minval=low, maxval=high + 1, dtype=tf.int32, alg=_RNG
    )


def _uniform_index(shape, seed, count):
    """Integers uniform in [0, count) for a per-element int `count`."""
    count = tf.cast(count, tf.float32)
    index = tf.floor(_uniform(shape, seed, 0.0, 1.0) * count)
    # A uniform just below 1 times a large count can round up to the count.
    return tf.cast(tf.minimum(index, count - 1), tf.int32)


# === Shapes ===


def _stroke_scale(height, width):
    return (height + width) / (2 * _REFERENCE_SIDE)


def _arc_segments(largest_axis):
    """Polyline segments for a half ellipse that stay within `_ARC_TOLERANCE` of it."""
    # A chord over a parameter step d deviates at most axis * d**2 / 8 from the arc.
    step = math.sqrt(8 * _ARC_TOLERANCE / largest_axis)
    return max(4, math.ceil(math.pi / step))


def _draw_lines(n, seed, count, height, width, thick_low, thick_high):
    seeds = _split_seed(seed, 5)
    shape = [n, count]
    return {
        "ax": _uniform(shape, seeds[0], 0.0, width - 1.0),
        "ay": _uniform(shape, seeds[1], 0.0, height - 1.0),
        "bx": _uniform(shape, seeds[2], 0.0, width - 1.0),
        "by": _uniform(shape, seeds[3], 0.0, height - 1.0),
        "radius": _uniform(shape, seeds[4], thick_low, thick_high) / 2,
    }


def _draw_circles(n, seed, count, height, width, radius_low, radius_high):
    seeds = _split_seed(seed, 3)
    shape = [n, count]
    x = _uniform(shape, seeds[0], 0.0, width - 1.0)
    y = _uniform(shape, seeds[1], 0.0, height - 1.0)
    return {
        "ax": x,
        "ay": y,
        "bx": x,
        "by": y,
        "radius": _uniform(shape, seeds[2], radius_low, radius_high),
    }


def _draw_arcs(n, seed, count, height, width, thick_low, thick_high, segments):
    """Elliptic arcs as polylines of `segments` capsules each."""
    seeds = _split_seed(seed, 8)
    shape = [n, count, 1]
    centre_x = _uniform(shape, seeds[0], 0.0, width - 1.0)
    centre_y = _uniform(shape, seeds[1], 0.0, height - 1.0)
    semi_x = _uniform(shape, seeds[2], 1.0, float(width))
    semi_y = _uniform(shape, seeds[3], 1.0, float(height))
    rotation = _uniform(shape, seeds[4], 3.0, 180.0) * (math.pi / 180)
    first = _uniform(shape, seeds[5], 3.0, 180.0) * (math.pi / 180)
    last = _uniform(shape, seeds[6], 3.0, 180.0) * (math.pi / 180)
    fractions = tf.linspace(0.0, 1.0, segments + 1)
    angle = tf.minimum(first, last) + tf.abs(last - first) * fractions
    along = semi_x * tf.cos(angle)
    across = semi_y * tf.sin(angle)
    xs = centre_x + along * tf.cos(rotation) - across * tf.sin(rotation)
    ys = centre_y + along * tf.sin(rotation) + across * tf.cos(rotation)
    radius = _uniform(shape, seeds[7], thick_low, thick_high) / 2
    flat = [n, count * segments]
    return {
        "ax": tf.reshape(xs[..., :-1], flat),
        "ay": tf.reshape(ys[..., :-1], flat),
        "bx": tf.reshape(xs[..., 1:], flat),
        "by": tf.reshape(ys[..., 1:], flat),
        "radius": tf.reshape(tf.repeat(radius, segments, axis=-1), flat),
    }


# === Rasterisation ===


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


def _raster_rank(flags):
    """For `(n, H, W)` 0/1 flags, how many flags are set up to each pixel in raster order."""
    in_row = _prefix_sum_rows(flags)
    before_row = tf.cumsum(in_row[:, :, -1], axis=1, exclusive=True)
    return in_row + before_row[:, :, None]


def _fill_boxes(boxes, height, width, grow):
    """Union of boxes [top, bottom) x [left, right), each moved out by `grow` pixels.

    Boxes covering a pixel = (rows in each box) @ (columns in each box), a
    batched matmul with one inner term per box.
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
    return tf.cast(cover > 0.5, tf.float32)[..., None]


def _fill_capsules(capsules, height, width, grow):
    """Union of capsules: pixels whose centre lies within `radius` of a segment.

    `capsules` maps ax, ay, bx, by, radius and active to `(n, C)` tensors;
    `grow` (`(n,)` or None) is added to every radius. Each capsule marks where
    its span starts (+1) and ends (-1) on each image row it crosses, in a grid
    at least W + 1 wide; prefix sums along the rows fill the spans.
    """
    ax, ay, bx, by, radius = (
        tf.reshape(capsules[key], [-1]) for key in ("ax", "ay", "bx", "by", "radius")
    )
    n = tf.shape(capsules["radius"])[0]
    if grow is not None:
        radius = radius + tf.repeat(grow, tf.shape(capsules["radius"])[1])
    capsule_image = tf.repeat(tf.range(n), tf.shape(capsules["radius"])[1])
    dx, dy = bx - ax, by - ay
    length = tf.sqrt(dx**2 + dy**2)
    safe_length = tf.maximum(length, 1e-3)
    # Only the rows a capsule crosses inside the image are worked on: a ragged
    # list of (capsule, row) pairs, so the cost follows the painted area.
    top = tf.maximum(tf.math.ceil(tf.minimum(ay, by) - radius), 0)
    bottom = tf.minimum(tf.floor(tf.maximum(ay, by) + radius), height - 1)
    crossed = tf.reshape(capsules["active"], [-1]) & (radius >= 0) & (bottom >= top)
    rows = tf.where(crossed, tf.cast(bottom - top, tf.int32) + 1, 0)
    starts = tf.cumsum(rows, exclusive=True)
    total = tf.reduce_sum(rows)
    # Counting the capsules that start at or before each pair finds its owner
    # (capsules crossing no row start where the next one does).
    owner = tf.cumsum(tf.math.bincount(starts, minlength=total, maxlength=total)) - 1
    # One gather of a matrix is several times faster than one gather per value.
    per_capsule = [ax, ay, bx, by, radius, dx / safe_length, dy / safe_length, length]
    per_row = tf.gather(tf.stack(per_capsule, axis=1), owner)
    ax, ay, bx, by, radius, along_x, along_y, length = tf.unstack(per_row, axis=1)
    row_offset, image = tf.unstack(
        tf.gather(tf.stack([tf.cast(top, tf.int32) - starts, capsule_image], axis=1), owner), axis=1
    )
    row = row_offset + tf.range(total)
    y = tf.cast(row, tf.float32)
    # The row crosses the disc at each end and the band between them; the
    # capsule is convex, so their union is one span.
    spans = [
        _disc_span(y - ay, radius, ax),
        _disc_span(y - by, radius, bx),
        _band_span(ax, y - ay, along_x, along_y, length, radius),
    ]
    first = tf.math.ceil(tf.reduce_min(tf.stack([span[0] for span in spans]), axis=0))
    last = tf.floor(tf.reduce_max(tf.stack([span[1] for span in spans]), axis=0))
    weight = tf.cast((first <= last) & (last >= 0) & (first <= width - 1), tf.int32)
    start = tf.cast(tf.clip_by_value(first, 0, width), tf.int32)
    stop = tf.cast(tf.clip_by_value(last + 1, 0, width), tf.int32)
    grid_width = -(-(width + 1) // _PREFIX_BLOCK) * _PREFIX_BLOCK
    base = (image * height + row) * grid_width
    # A segment sum is the fastest scatter-add for these sparse updates; in
    # integers it is exact and deterministic in any order.
    grid = tf.math.unsorted_segment_sum(
        tf.concat([weight, -weight], 0),
        tf.concat([base + start, base + stop], 0),
        n * height * grid_width,
    )
    grid = tf.cast(tf.reshape(grid, [-1, height, grid_width]), tf.float32)
    cover = _prefix_sum_rows(grid)[:, :, :width]
    return tf.cast(cover > 0.5, tf.float32)[..., None]


def _empty_span_where(empty, left, right):
    return tf.where(empty, _FAR, left), tf.where(empty, -_FAR, right)


def _disc_span(dy, radius, centre_x):
    half_squared = radius**2 - dy**2
    half = tf.sqrt(tf.maximum(half_squared, 0.0))
    return _empty_span_where(half_squared < 0, centre_x - half, centre_x + half)


def _linear_span(slope, offset, low, high):
    """The x with low <= slope * x + offset <= high."""
    steep = tf.abs(slope) > 1e-6
    safe_slope = tf.where(steep, slope, 1.0)
    x_low = (low - offset) / safe_slope
    x_high = (high - offset) / safe_slope
    inside = (offset >= low) & (offset <= high)
    left = tf.where(steep, tf.minimum(x_low, x_high), tf.where(inside, -_FAR, _FAR))
    right = tf.where(steep, tf.maximum(x_low, x_high), tf.where(inside, _FAR, -_FAR))
    return left, right


def _band_span(ax, rel_y, along_x, along_y, length, radius):
    """Span of a row (rel_y below A) in the rectangle swept by the radius along AB."""
    # In the segment's frame, x - ax must project into [0, length] along it and
    # into [-radius, radius] across it.
    along_left, along_right = _linear_span(along_x, along_y * rel_y, 0.0, length)
    across_left, across_right = _linear_span(-along_y, along_x * rel_y, -radius, radius)
    left = tf.maximum(along_left, across_left)
    right = tf.minimum(along_right, across_right)
    # A segment shorter than this has no band: its discs cover it.
    empty = (length <= 1e-3) | (left > right)
    return _empty_span_where(empty, ax + left, ax + right)


# === Hole ratio ===


def _hole_counts(masks):
    return tf.cast(tf.reduce_sum(masks, axis=[1, 2, 3]), tf.int32)


def _gather_params(params, indices):
    return tf.nest.map_structure(lambda tensor: tf.gather(tensor, indices), params)


def _shape_masks(
    draw, render, batch_size, height, width, seed, hole_ratio, num_candidates, margins
):
    """Draws and renders shapes, then meets `hole_ratio` if one is given.

    `draw(n, seed)` returns a structure of `(n, ...)` tensors; `render(params,
    grow)` turns it into masks, with every shape grown by the per-image margin
    `grow` (`(n,)` pixels, negative shrinks) unless it is None. `margins` holds
    a margin that empties every mask and one that fills the image.
    """
    if hole_ratio is None:
        return render(draw(batch_size, seed), None)
    count_low, count_high = _hole_count_range(hole_ratio, height * width)
    _positive_int(num_candidates, "num_candidates")
    params = draw(batch_size * num_candidates, seed)
    masks = render(params, None)
    counts = tf.reshape(_hole_counts(masks), tf.stack([num_candidates, batch_size]))
    fits = (counts >= count_low) & (counts <= count_high)
    candidate = tf.range(num_candidates)[:, None]
    first_fit = tf.reduce_min(tf.where(fits, candidate, num_candidates), axis=0)
    chosen = tf.where(first_fit < num_candidates, first_fit, 0) * batch_size + tf.range(batch_size)
    params = _gather_params(params, chosen)
    masks = tf.gather(masks, chosen)
    misfits = tf.where(first_fit == num_candidates)[:, 0]

    def refit():
        current = tf.gather(_hole_counts(masks), misfits)
        targets = tf.clip_by_value(current, count_low, count_high)
        refitted = _grow_to_counts(
            render, _gather_params(params, misfits), current, targets, margins
        )
        return tf.tensor_scatter_nd_update(masks, misfits[:, None], refitted)

    return tf.cond(tf.size(misfits) > 0, refit, lambda: masks)


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
    extra = ring * tf.cast(_raster_rank(ring) <= missing[:, None, None], tf.float32)
    return (inner + extra)[..., None]


def _top_pixels(field, counts):
    """Masks of the `counts[b]` highest pixels of each `field[b]`, exactly.

    A per-image histogram finds the level that straddles the threshold; the
    pixels above it are holes and the missing ones come from that level in
    raster order (a sort of every pixel would cost several times more).
    """
    field = field[..., 0]
    n = tf.shape(field)[0]
    low = tf.reduce_min(field, axis=[1, 2], keepdims=True)
    high = tf.reduce_max(field, axis=[1, 2], keepdims=True)
    scaled = (field - low) / tf.maximum(high - low, 1e-12) * _QUANTILE_BINS
    level = tf.cast(tf.minimum(scaled, _QUANTILE_BINS - 1), tf.int32)
    bins = n * _QUANTILE_BINS
    histogram = tf.math.bincount(
        tf.reshape(level + tf.range(n)[:, None, None] * _QUANTILE_BINS, [-1]),
        minlength=bins,
        maxlength=bins,
    )
    at_or_above = tf.cumsum(tf.reshape(histogram, [n, _QUANTILE_BINS]), axis=1, reverse=True)
    # at_or_above falls with the level: the threshold is the last level that
    # still has enough pixels at or above it.
    enough = at_or_above >= counts[:, None]
    threshold = (tf.reduce_sum(tf.cast(enough, tf.int32), axis=1) - 1)[:, None, None]
    above = level > threshold
    straddling = tf.cast(level == threshold, tf.float32)
    missing = counts - _hole_counts(tf.cast(above, tf.float32)[..., None])
    rank = _raster_rank(straddling)
    chosen = (straddling > 0) & (rank <= tf.cast(missing, tf.float32)[:, None, None])
    return tf.cast(above | chosen, tf.float32)[..., None]
