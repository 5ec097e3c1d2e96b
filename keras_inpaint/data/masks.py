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
`center_box` compiles with XLA; `random_boxes` without `hole_ratio` compiles
too, but XLA's random draws differ from the eager ones, so a seed gives other
masks under `jit_compile=True`.

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
- `mixture`: each image's mask comes from one of several specs, e.g. free-form
  strokes or boxes in three hole-ratio buckets (the presets' training and
  validation masks).

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

Rasterisation: strokes are unions of capsules (segments with a round brush;
elliptic arcs are polylines of as few segments as keep them within half a
pixel). Each capsule computes its span on each image row it crosses (a ragged
list, so the work follows the painted area) from per-capsule coefficients
that are linear in the row, marks where the span starts and ends in a grid of
rows with one segment sum, and prefix sums along the rows (a matmul with a
triangle of ones within 16-pixel blocks, whose carries are marks too) fill the
spans: the cost does not multiply `H * W` by the number of segments, and the
grid is painted a few images at a time so that it stays in the CPU caches.
Boxes are one batched matmul of row and column indicators. Random regions
threshold each image at an exact quantile found with a histogram.
"""

import glob
import inspect
import logging
import math
import numbers
import os
from collections.abc import Mapping

import tensorflow as tf

from keras_inpaint.images import decode_mask_file

logger = logging.getLogger(__name__)

MASK_KINDS = (
    "center_box",
    "random_boxes",
    "random_region",
    "irregular_strokes",
    "free_form",
    "files",
    "mixture",
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

# Column block of the matmul prefix sums (see _prefix_sum_rows and _paint_spans).
_PREFIX_SHIFT = 4
_PREFIX_BLOCK = 1 << _PREFIX_SHIFT

# Pixels of span grid painted per loop step (a few images: 2 MiB of float32,
# which stays in the CPU caches; see _paint_spans).
_CHUNK_PIXELS = 1 << 19

# A capsule shorter than this has no band (its end discs cover it), and a
# direction within this of an axis counts as on the axis (see
# _capsule_coefficients).
_SHORT = 1e-3
_FLAT = 1e-6

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
        arcs["active"] = tf.repeat(active[:, 2], arc_segments, axis=1) & arcs.pop("used")
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
    if kind == "mixture":
        _check_options(kind, options, ("components", "cycle"))
        return _mixture_mask_fn(spec.get("components"), bool(spec.get("cycle", False)))
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


def _mixture_mask_fn(components, cycle):
    """Each image's mask from one component spec: the `n`-th image of a batch takes
    component `n % len(components)` when `cycle`, else one drawn by the seed."""
    if not isinstance(components, list) or not components:
        raise ValueError(
            "mask kind 'mixture' needs 'components': a non-empty list of mask specs, "
            'e.g. [{"kind": "free_form"}, {"kind": "random_boxes"}]'
        )
    if any(isinstance(c, Mapping) and c.get("kind") == "mixture" for c in components):
        raise ValueError("a 'mixture' component cannot itself be a 'mixture'; list its parts")
    mask_fns = [make_mask_fn(component) for component in components]

    def mixture(batch_size, height, width, seed):
        seed = tf.cast(seed, tf.int64)
        if cycle:
            choice = tf.range(batch_size, dtype=tf.int64) % len(mask_fns)
        else:
            choice_seed = tf.random.experimental.stateless_fold_in(seed, len(mask_fns))
            choice = tf.random.stateless_uniform(
                [batch_size], choice_seed, 0, len(mask_fns), dtype=tf.int64
            )
        masks = tf.zeros([batch_size, height, width, 1], tf.float32)
        for index, mask_fn in enumerate(mask_fns):
            drawn = mask_fn(
                batch_size, height, width, tf.random.experimental.stateless_fold_in(seed, index)
            )
            masks = tf.where(tf.reshape(choice == index, [-1, 1, 1, 1]), drawn, masks)
        return masks

    return mixture


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
    """Elliptic arcs as polylines of at most `segments` capsules each.

    Each arc uses as few equal parameter steps as keep it within
    `_ARC_TOLERANCE` of its polyline (a short or small arc needs few); the
    capsules left over are marked unused in `"used"`.
    """
    seeds = _split_seed(seed, 8)
    shape = [n, count, 1]
    centre_x = _uniform(shape, seeds[0], 0.0, width - 1.0)
    centre_y = _uniform(shape, seeds[1], 0.0, height - 1.0)
    semi_x = _uniform(shape, seeds[2], 1.0, float(width))
    semi_y = _uniform(shape, seeds[3], 1.0, float(height))
    rotation = _uniform(shape, seeds[4], 3.0, 180.0) * (math.pi / 180)
    first = _uniform(shape, seeds[5], 3.0, 180.0) * (math.pi / 180)
    last = _uniform(shape, seeds[6], 3.0, 180.0) * (math.pi / 180)
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
    radius = _uniform(shape, seeds[7], thick_low, thick_high) / 2
    flat = [n, count * segments]
    return {
        "ax": tf.reshape(xs[..., :-1], flat),
        "ay": tf.reshape(ys[..., :-1], flat),
        "bx": tf.reshape(xs[..., 1:], flat),
        "by": tf.reshape(ys[..., 1:], flat),
        "radius": tf.reshape(tf.repeat(radius, segments, axis=-1), flat),
        "used": tf.reshape(vertex[:-1] < steps, flat),
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
    batched matmul with one inner term per box, clipped to 1 (one box per
    image needs no clipping; a matmul is faster than a broadcast product).
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


def _fill_capsules(capsules, height, width, grow):
    """Union of capsules: pixels whose centre lies within `radius` of a segment.

    `capsules` maps ax, ay, bx, by, radius and active to `(n, C)` tensors;
    `grow` (`(n,)` or None) is added to every radius. Only the rows a capsule
    crosses are worked on: a ragged list of (capsule, row) pairs, so the cost
    follows the painted area. On each of its rows a capsule covers one span
    (it is convex), the union of the spans of its two end discs and of the
    band between them; `_paint_spans` fills the spans.
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
    """`(C, 16)` span coefficients of capsules, columns in pairs (see `_fill_capsules`).

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

    per_chunk = max(1, _CHUNK_PIXELS // (height * grid_width))
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
    raster order (a sort of every pixel would cost several times more). The
    straddling pixels are few (about H * W / `_QUANTILE_BINS` per image), so
    they are listed rather than ranked over the whole image.
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
