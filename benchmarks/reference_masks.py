"""OpenCV references of the common mask recipes, for `benchmarks/masks.py` only.

`make_reference(kind, seed)` returns a function `draw(height, width)` that
draws one `(height, width)` uint8 mask (1 = hole) with OpenCV, one mask per
Python call, the way training scripts usually make their masks. The
parameters follow the defaults of the matching generator in
`keras_inpaint.data.masks`, so that the two draw masks of comparable hole
ratios. The shape recipes draw each number with a scalar call of Python's
`random.Random` (`randint`, `uniform`), as PConv-Keras's own mask generator
does with `random.randint`: a call costs a fraction of a microsecond, where a
NumPy `Generator` call costs several, which would slow the reference 2-3x
and flatter ours. Only the noise of `region`, an array, comes from NumPy.

- `boxes`: one `cv2.rectangle`, sides uniform in a quarter to a half of the
  image side (`random_boxes`' defaults).
- `region`: uniform noise on a grid of 0.06 cells per pixel, upscaled with a
  bicubic `cv2.resize`, thresholded at the quantile of a hole fraction drawn
  in 20-30 % (`random_region`'s defaults).
- `irregular_strokes`: the partial-convolution recipe on a 1-channel canvas:
  1-20 random lines, 1-20 filled circles and 1-20 elliptic arcs with
  `cv2.line`, `cv2.circle` and `cv2.ellipse`, thicknesses up to
  `0.03 * (H + W)` (`irregular_strokes`), every number drawn as it is used.
- `free_form`: DeepFill v2 / PEPSI brush strokes: 3-5 strokes of 5-15
  segments, `cv2.line` for the segments and filled `cv2.circle`s at the joints
  and ends (`free_form`'s defaults, lengths and widths scaled with the image).

Example:

    >>> draw = make_reference("free_form", 0)
    >>> mask = draw(256, 256)
    >>> mask.shape, mask.dtype
    ((256, 256), dtype('uint8'))
"""

import math
import random

import numpy as np

try:
    import cv2
except ImportError as error:
    raise SystemExit(
        "benchmarks/masks.py compares with OpenCV, which is not installed: "
        'run `python -m pip install -e ".[benchmarks]"` (opencv-python-headless)'
    ) from error

# Lengths and widths of strokes are given for this side and scale with the
# image, as in keras_inpaint.data.masks.
_REFERENCE_SIDE = 256


def _scale(height, width):
    return (height + width) / (2 * _REFERENCE_SIDE)


def boxes(rng, height, width, box_size=(0.25, 0.5)):
    """One box, each side uniform in `box_size` (fractions of the side)."""
    mask = np.zeros((height, width), np.uint8)
    randint = rng.randint
    box_height = randint(round(box_size[0] * height), round(box_size[1] * height))
    box_width = randint(round(box_size[0] * width), round(box_size[1] * width))
    top = randint(0, height - box_height)
    left = randint(0, width - box_width)
    # cv2.rectangle's corners are inclusive.
    cv2.rectangle(mask, (left, top), (left + box_width - 1, top + box_height - 1), 1, -1)
    return mask


def region(rng, height, width, hole_ratio=(0.2, 0.3), noise_size=0.06):
    """Bicubically upscaled uniform noise, its highest pixels as the hole."""
    rows = max(2, round(noise_size * height))
    cols = max(2, round(noise_size * width))
    noise = rng.random((rows, cols), dtype=np.float32)
    field = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    count = int(
        rng.integers(math.ceil(hole_ratio[0] * height * width), 1 + hole_ratio[1] * height * width)
    )
    # The count-th highest value is the threshold (ties are rare in float noise).
    threshold = np.partition(field.ravel(), field.size - count)[field.size - count]
    return (field >= threshold).astype(np.uint8)


def irregular_strokes(rng, height, width, num_shapes=(1, 20), thickness=(3, 15)):
    """Random lines, filled circles and elliptic arcs (the partial-convolution recipe)."""
    mask = np.zeros((height, width), np.uint8)
    randint = rng.randint
    scale = _scale(height, width)
    thin, thick = max(1, round(thickness[0] * scale)), max(1, round(thickness[1] * scale))
    for _ in range(randint(*num_shapes)):
        start = (randint(0, width - 1), randint(0, height - 1))
        end = (randint(0, width - 1), randint(0, height - 1))
        cv2.line(mask, start, end, 1, randint(thin, thick))
    for _ in range(randint(*num_shapes)):
        centre = (randint(0, width - 1), randint(0, height - 1))
        cv2.circle(mask, centre, randint(thin, thick), 1, -1)
    for _ in range(randint(*num_shapes)):
        centre = (randint(0, width - 1), randint(0, height - 1))
        axes = (randint(1, width), randint(1, height))
        rotation, first, last = randint(3, 180), randint(3, 180), randint(3, 180)
        cv2.ellipse(mask, centre, axes, rotation, first, last, 1, randint(thin, thick))
    return mask


def free_form(
    rng,
    height,
    width,
    num_strokes=(3, 5),
    num_vertices=(5, 15),
    length=(20, 50),
    brush_width=(15, 30),
    max_angle=math.pi,
):
    """DeepFill v2 brush strokes: zigzag walks painted with a round brush."""
    mask = np.zeros((height, width), np.uint8)
    randint, uniform = rng.randint, rng.uniform
    scale = _scale(height, width)
    for _ in range(randint(*num_strokes)):
        width_px = max(1, round(uniform(*brush_width) * scale))
        x, y = float(randint(0, width - 1)), float(randint(0, height - 1))
        joints = [(int(x), int(y))]
        for vertex in range(randint(*num_vertices)):
            angle = uniform(0, max_angle)
            if vertex % 2 == 0:
                angle = 2 * math.pi - angle
            step = uniform(*length) * scale
            x = min(max(x + step * math.sin(angle), 0), width - 1)
            y = min(max(y + step * math.cos(angle), 0), height - 1)
            joints.append((int(x), int(y)))
            cv2.line(mask, joints[-2], joints[-1], 1, width_px)
        for joint in joints:
            cv2.circle(mask, joint, width_px // 2, 1, -1)
    return mask


# Each recipe's mask function and the random source it draws from: Python's
# `random.Random` for scalar draws, a NumPy `Generator` for the noise array.
_RECIPES = {
    "random_boxes": (boxes, random.Random),
    "random_region": (region, np.random.default_rng),
    "irregular_strokes": (irregular_strokes, random.Random),
    "free_form": (free_form, random.Random),
}
REFERENCE_KINDS = tuple(_RECIPES)


def make_reference(kind, seed):
    """`draw(height, width)`: one reference mask of `kind` per call, from a source seeded by `seed`.

    Raises:
        ValueError: `kind` has no reference (the message lists those that do).
    """
    if kind not in _RECIPES:
        raise ValueError(
            f"no OpenCV reference for mask kind {kind!r}; references: {', '.join(_RECIPES)}"
        )
    recipe, source = _RECIPES[kind]
    rng = source(seed)
    return lambda height, width: recipe(rng, height, width)
