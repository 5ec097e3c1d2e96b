"""Push-pull fill: equals a NumPy reference, keeps known pixels, runs at any size and in XLA."""

import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.baselines import BASELINES
from keras_inpaint.layers import HoleFill
from keras_inpaint.layers.push_pull import push_pull_fill


def _bilinear_up2(grid):
    """Upsample `(h, w, c)` to `(2h, 2w, c)`, half-pixel centres, edges clamped."""
    h, w = grid.shape[:2]

    def axis_weights(size):
        source = (np.arange(2 * size) + 0.5) / 2.0 - 0.5
        source = np.clip(source, 0, size - 1)
        low = np.floor(source).astype(int)
        high = np.minimum(low + 1, size - 1)
        return low, high, source - low

    r0, r1, rf = axis_weights(h)
    c0, c1, cf = axis_weights(w)
    rows = grid[r0] * (1 - rf)[:, None, None] + grid[r1] * rf[:, None, None]
    return rows[:, c0] * (1 - cf)[None, :, None] + rows[:, c1] * cf[None, :, None]


def reference_push_pull(image, hole):
    """Loop-by-loop push-pull of one `(H, W, C)` image with a `(H, W)` 0/1 hole."""
    known = 1.0 - hole.astype(np.float64)
    levels = [(image * known[..., None], known)]
    while max(levels[-1][1].shape) > 1:
        sums, weights = levels[-1]
        h, w = weights.shape
        hh, ww = (h + 1) // 2, (w + 1) // 2
        coarse_sums = np.zeros((hh, ww, image.shape[2]))
        coarse_weights = np.zeros((hh, ww))
        for i in range(h):
            for j in range(w):
                coarse_sums[i // 2, j // 2] += sums[i, j]
                coarse_weights[i // 2, j // 2] += weights[i, j]
        levels.append((coarse_sums, coarse_weights))
    sums, weights = levels[-1]
    fill = np.where(weights[..., None] > 0, sums / np.maximum(weights, 1e-30)[..., None], 0.0)
    for sums, weights in reversed(levels[:-1]):
        h, w = weights.shape
        upsampled = _bilinear_up2(fill)[:h, :w]
        own = sums / np.maximum(weights, 1e-30)[..., None]
        fill = np.where(weights[..., None] > 0, own, upsampled)
    return np.where(hole[..., None] > 0, fill, image)


@pytest.mark.parametrize("height, width", [(32, 32), (37, 50), (1, 9), (64, 20)])
def test_push_pull_equals_numpy_reference(height, width):
    rng = np.random.default_rng(height * 100 + width)
    image = rng.uniform(-1, 1, (2, height, width, 3)).astype("float32")
    hole = (rng.uniform(size=(2, height, width, 1)) < 0.6).astype("float32")
    hole[1, : height // 2 + 1, : width // 2 + 1] = 1.0  # a large block too
    filled = push_pull_fill(image * (1 - hole), hole).numpy()
    for index in range(2):
        expected = reference_push_pull(image[index], hole[index, ..., 0])
        np.testing.assert_allclose(filled[index], expected, atol=1e-5)


def test_push_pull_keeps_known_pixels_bit_exact():
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (3, 40, 40, 3)).astype("float32")
    hole = np.zeros((3, 40, 40, 1), "float32")
    hole[:, 5:30, 10:35] = 1.0
    filled = push_pull_fill(image * (1 - hole), hole).numpy()
    known = hole[..., 0] == 0
    assert np.array_equal(filled[known], image[known])
    # The hole is filled with values in the known pixels' range, not left at 0.
    assert np.all(np.abs(filled[~known]) <= 1.0)
    assert np.std(filled[~known]) > 0.01


def test_push_pull_interpolates_a_smooth_gradient():
    # A linear ramp with a hole: push-pull gives back a ramp close to the truth,
    # far closer than the known-pixel mean.
    ramp = np.tile(np.linspace(-1, 1, 64, dtype="float32"), (64, 1))
    image = np.repeat(ramp[None, ..., None], 3, axis=3)
    hole = np.zeros((1, 64, 64, 1), "float32")
    hole[:, 20:44, 20:44] = 1.0
    filled = push_pull_fill(image * (1 - hole), hole).numpy()
    inside = hole[0, ..., 0] > 0
    push_pull_error = np.abs(filled[0][inside] - image[0][inside]).mean()
    mean_error = np.abs(image[0][~inside].mean() - image[0][inside]).mean()
    assert push_pull_error < 0.25 * mean_error


def test_push_pull_edge_cases():
    image = np.full((1, 8, 8, 3), 0.5, "float32")
    all_hole = np.ones((1, 8, 8, 1), "float32")
    assert np.array_equal(push_pull_fill(image, all_hole).numpy(), np.zeros_like(image))
    no_hole = np.zeros((1, 8, 8, 1), "float32")
    assert np.array_equal(push_pull_fill(image, no_hole).numpy(), image)


@pytest.mark.large
def test_push_pull_runs_with_unknown_size_and_under_xla():
    rng = np.random.default_rng(1)
    image = rng.uniform(-1, 1, (1, 24, 40, 3)).astype("float32")
    hole = np.zeros((1, 24, 40, 1), "float32")
    hole[:, 4:20, 8:30] = 1.0
    expected = push_pull_fill(image, hole).numpy()
    dynamic = tf.function(
        push_pull_fill,
        input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float32),
            tf.TensorSpec([None, None, None, 1], tf.float32),
        ],
    )
    np.testing.assert_allclose(dynamic(image, hole).numpy(), expected, atol=1e-6)
    compiled = tf.function(push_pull_fill, jit_compile=True)
    np.testing.assert_allclose(compiled(image, hole).numpy(), expected, atol=1e-5)


def test_hole_fill_push_pull_mode_and_baseline_agree():
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    hole = np.zeros((2, 32, 32, 1), np.uint8)
    hole[:, 8:24, 4:20] = 1
    image = pixels.astype("float32") / 127.5 - 1.0
    layer = HoleFill(mode="push_pull")([image * (1 - hole), hole.astype("float32")])
    np.testing.assert_allclose(layer.numpy(), push_pull_fill(image, hole.astype("float32")))
    baseline = BASELINES["push_pull"](pixels, hole * 255)
    assert baseline.dtype == np.uint8
    known = hole[..., 0] == 0
    assert np.array_equal(baseline[known], pixels[known])
    rounded = np.clip(np.round((layer.numpy() + 1) * 127.5), 0, 255)
    assert np.abs(baseline.astype(int) - rounded.astype(int)).max() <= 1
