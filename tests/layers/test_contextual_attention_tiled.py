"""The banded `"fused"` `ContextualAttention` against the whole-matrix implementation it replaced.

`WholeMatrixAttention` below is the previous `"fused"` computation, kept as
the reference: the `(B, N, N)` Gram matrix, its diagonal shift sum over 3x3
offsets, the truncated distance similarity and masked softmax over whole
rows, and the attention matrix folded back and multiplied with the pixels.
The layer must give the same outputs, gradients and weights on maps split
into several bands of query rows (forced by a small `_BAND_SCORES`), with
masks and batches > 1, eagerly and under XLA.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_inpaint.layers import contextual_attention
from keras_inpaint.layers.contextual_attention import ContextualAttention


def whole_matrix_shift_sum(matrix, height, width, sign):
    """`out[i, j] = sum_o matrix[i + sign * o, j + sign * o]` over 3x3 offsets, zero outside."""
    grid = ops.reshape(matrix, (-1, height, width, height, width))
    for row_axes, size in (((1, 3), height), ((2, 4), width)):
        padding = [[1, 1] if axis in row_axes else [0, 0] for axis in range(5)]
        padded = ops.pad(grid, padding)
        total = 0.0
        for offset in (-1, 0, 1):
            start = 1 + sign * offset
            index = [slice(None)] * 5
            for axis in row_axes:
                index[axis] = slice(start, start + size)
            total = total + padded[tuple(index)]
        grid = total
    return ops.reshape(grid, (-1, height * width, height * width))


def whole_matrix_weights(x, mask, scale, epsilon=1e-6):
    """The previous `"fused"` weights `(B, N, N)` and the hole `(B, H, W, 1)`."""
    _, height, width, channels = x.shape
    factor = mask.shape[1] // height
    if factor > 1:
        mask = ops.max_pool(mask, factor, strides=factor)
    touches_hole = ops.max_pool(mask, 3, strides=1, padding="same")
    background = ops.reshape(1.0 - touches_hole, (-1, 1, height * width))
    pixels = ops.reshape(x, (-1, height * width, channels))
    gram = ops.matmul(pixels, ops.transpose(pixels, (0, 2, 1)))
    patch_dot = whole_matrix_shift_sum(gram, height, width, sign=1)
    box = ops.conv(ops.sum(ops.square(x), -1, keepdims=True), ops.ones((3, 3, 1, 1)), 1, "same")
    norms = ops.reshape(box, (-1, height * width))
    squared = norms[:, :, None] + norms[:, None, :] - 2.0 * patch_dot
    distance = ops.sqrt(ops.maximum(squared, 0.0) + epsilon)
    count = ops.maximum(ops.sum(background, axis=-1, keepdims=True), 1.0)
    mean = ops.sum(distance * background, axis=-1, keepdims=True) / count
    variance = ops.sum(ops.square(distance - mean) * background, axis=-1, keepdims=True)
    std = ops.sqrt(variance / count + epsilon)
    logits = scale * ops.tanh(-(distance - mean) / std)
    logits = ops.where(background > 0, logits, -scale)
    logits = logits - ops.max(logits, axis=-1, keepdims=True)
    weights = ops.exp(logits) * background
    return ops.divide_no_nan(weights, ops.sum(weights, axis=-1, keepdims=True)), mask


def whole_matrix_attention(x, mask, scale):
    _, height, width, channels = x.shape
    weights, hole = whole_matrix_weights(x, mask, scale)
    folded = whole_matrix_shift_sum(weights, height, width, sign=-1)
    pixels = ops.reshape(x, (-1, height * width, channels))
    pasted = ops.reshape(ops.matmul(folded, pixels), (-1, height, width, channels))
    covering = ops.conv(ops.ones_like(hole[:1]), ops.ones((3, 3, 1, 1)), 1, "same")
    return x * (1.0 - hole) + (pasted / covering) * hole


# (batch, height, width, channels, mask factor, query rows per band)
SHAPES = [
    (2, 7, 5, 3, 2, 2),  # 4 bands, the last one shorter
    (3, 8, 8, 4, 1, 1),  # a band per row
    (2, 9, 6, 5, 4, 4),  # 3 bands: 4, 4, 1 rows
    (2, 6, 9, 8, 2, 6),  # one band: the whole map
]


def inputs(batch, height, width, channels, factor, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, height, width, channels)).astype("float32")
    mask = (rng.uniform(size=(batch, height * factor, width * factor, 1)) > 0.8).astype("float32")
    mask[0] = 0.0
    mask[0, : 2 * factor, -3 * factor :] = 1.0  # a hole at the top border
    mask[-1, -2 * factor :, : 3 * factor] = 1.0  # and one at the bottom
    return tf.constant(x), tf.constant(mask)


@pytest.fixture
def band_rows(monkeypatch):
    """Sets the query rows per band of a `(height, width)` map."""

    def set_rows(rows, height, width):
        monkeypatch.setattr(contextual_attention, "_BAND_SCORES", rows * width * height * width)
        assert contextual_attention._bands(height, width)[0][1] == rows

    return set_rows


@pytest.mark.parametrize("scale", [10.0, 50.0, 100.0])
@pytest.mark.parametrize("shape", SHAPES)
def test_banded_outputs_and_weights_match_the_whole_matrix(shape, scale, band_rows):
    batch, height, width, channels, factor, rows = shape
    band_rows(rows, height, width)
    x, mask = inputs(batch, height, width, channels, factor)
    layer = ContextualAttention(scale=scale)
    expected = whole_matrix_attention(x, mask, scale)
    np.testing.assert_allclose(layer([x, mask]), expected, rtol=1e-5, atol=2e-5)
    weights = layer.attention_weights([x, mask])
    np.testing.assert_allclose(weights, whole_matrix_weights(x, mask, scale)[0], atol=2e-5)


@pytest.mark.parametrize("shape", SHAPES)
def test_banded_gradients_match_the_whole_matrix(shape, band_rows):
    batch, height, width, channels, factor, rows = shape
    band_rows(rows, height, width)
    x, mask = inputs(batch, height, width, channels, factor, seed=1)
    layer = ContextualAttention(scale=20.0)
    probe = tf.constant(np.random.default_rng(2).normal(size=x.shape).astype("float32"))
    gradients = []
    for attend in (layer, lambda pair: whole_matrix_attention(*pair, 20.0)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(attend([x, mask]) * probe)
        gradients.append(tape.gradient(loss, x))
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("hole_row", [0, 3, 6])
def test_bands_far_from_the_hole_are_skipped_without_changing_anything(hole_row, band_rows):
    # Bands of 1 row: a hole in one row needs pasted rows there, weights within a row of it
    # and Gram rows within two; every other band is skipped.
    band_rows(1, 7, 6)
    x, _ = inputs(2, 7, 6, 4, 1, seed=3)
    mask = np.zeros((2, 7, 6, 1), "float32")
    mask[0, hole_row, 2:4] = 1.0
    mask[1, hole_row, :1] = 1.0
    layer = ContextualAttention(scale=50.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        out = layer([x, mask])
        expected = whole_matrix_attention(x, tf.constant(mask), 50.0)
        losses = [tf.reduce_sum(tf.sin(3.0 * value)) for value in (out, expected)]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=2e-5)
    gradients = [tape.gradient(loss, x) for loss in losses]
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-4, atol=1e-4)


def test_xla_compiles_the_bands_and_their_gradient(band_rows):
    band_rows(2, 7, 5)
    x, mask = inputs(2, 7, 5, 3, 2)
    layer = ContextualAttention(scale=50.0)

    @tf.function(jit_compile=True)
    def attend_and_differentiate(x, mask):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer([x, mask])
            loss = tf.reduce_sum(tf.square(out))
        return out, tape.gradient(loss, x)

    out, gradient = attend_and_differentiate(x, mask)
    np.testing.assert_allclose(out, whole_matrix_attention(x, mask, 50.0), rtol=1e-5, atol=2e-5)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.square(whole_matrix_attention(x, mask, 50.0)))
    np.testing.assert_allclose(gradient, tape.gradient(loss, x), rtol=1e-4, atol=1e-4)


def test_mixed_precision_bands_match_float32(band_rows):
    band_rows(3, 9, 6)
    x, mask = inputs(2, 9, 6, 5, 4)
    layer = ContextualAttention(scale=50.0, dtype="mixed_float16")
    out = layer([tf.cast(x, "float16"), mask])
    assert out.dtype == tf.float16
    expected = whole_matrix_attention(x, mask, 50.0)
    np.testing.assert_allclose(tf.cast(out, "float32"), expected, rtol=1e-2, atol=1e-2)


def test_bands_are_sized_by_their_scores():
    # A 64x64 map (512x512 images): 4 query rows x 4096 positions ~ 2**20 scores a band.
    assert contextual_attention._bands(64, 64)[:2] == [(0, 4), (4, 4)]
    assert len(contextual_attention._bands(64, 64)) == 16
    # Up to 32x32 (256x256 images) a single band holds the whole map.
    assert contextual_attention._bands(32, 32) == [(0, 32)]
    assert contextual_attention._bands(1, 3) == [(0, 1)]


def test_a_saved_layer_loads_with_the_same_config(tmp_path):
    x, mask = inputs(2, 7, 5, 3, 2)
    features = keras.Input((7, 5, 3))
    hole = keras.Input((14, 10, 1))
    model = keras.Model([features, hole], ContextualAttention(scale=30.0)([features, hole]))
    model.save(tmp_path / "cam.keras")
    loaded = keras.saving.load_model(tmp_path / "cam.keras")
    np.testing.assert_array_equal(loaded([x, mask]), model([x, mask]))
    assert loaded.layers[-1].get_config()["implementation"] == "fused"
