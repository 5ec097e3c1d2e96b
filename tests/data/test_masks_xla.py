"""Every mask kind compiles with XLA (`jit_compile=True`): shapes, values, ratios, seeds.

Under XLA the masks keep their shapes and hole-ratio ranges, and a seed gives
the same masks on every call. `center_box`, `random_boxes` and
`random_region` give the graph's masks bit for bit; the stroke kinds'
trigonometry and square roots round differently under XLA, so their masks
can differ from the graph's in a few edge pixels (checked on their hole
ratios and on the pixels that differ).
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.data import masks
from keras_inpaint.data.masks import draws

BATCH = 4
SIZES = (64, 256)
EXACT = (0.2, 0.3)

# (kind, options, documented hole-ratio range or None for "some hole")
CASES = {
    "center_box": ("center_box", {}, (0.25, 0.25)),
    "random_boxes": ("random_boxes", {}, None),
    "random_boxes_ratio": ("random_boxes", {"hole_ratio": EXACT}, EXACT),
    "random_region": ("random_region", {}, (0.2, 0.3)),
    "irregular_strokes": ("irregular_strokes", {}, None),
    "irregular_strokes_ratio": ("irregular_strokes", {"hole_ratio": EXACT}, EXACT),
    "free_form": ("free_form", {}, None),
    "free_form_ratio": ("free_form", {"hole_ratio": EXACT}, EXACT),
}
# Same masks under XLA as in a graph, bit for bit.
IDENTICAL = ("center_box", "random_boxes", "random_boxes_ratio", "random_region")

_FUNCTIONS = {}


def mask_function(case, size, jit_compile, batch=BATCH):
    """One traced generator per case, size and mode (XLA or not): seed in, masks out."""
    key = (case, size, jit_compile, batch)
    if key not in _FUNCTIONS:
        kind, options, _ = CASES[case]
        mask_fn = masks.make_mask_fn({"kind": kind, **options})
        _FUNCTIONS[key] = tf.function(
            lambda seed: mask_fn(batch, size, size, seed), jit_compile=jit_compile
        )
    return _FUNCTIONS[key]


def hole_ratios(mask):
    mask = np.asarray(mask)
    return mask.reshape(len(mask), -1).mean(axis=1)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", CASES)
def test_compiles_with_shapes_values_and_ratios(case, size):
    mask = mask_function(case, size, True)(tf.constant([1, 2]))
    assert mask.shape == (BATCH, size, size, 1)
    assert mask.dtype == tf.float32
    assert set(np.unique(mask.numpy())) <= {0.0, 1.0}
    _, _, hole_ratio = CASES[case]
    counts = hole_ratios(mask) * size * size
    if hole_ratio is None:
        assert (counts > 0).all()
    else:
        assert (counts >= math.ceil(round(hole_ratio[0] * size * size, 6))).all()
        assert (counts <= math.floor(round(hole_ratio[1] * size * size, 6))).all()


@pytest.mark.parametrize("case", CASES)
def test_same_seed_same_masks_under_xla(case):
    compiled = mask_function(case, SIZES[0], True)
    first = compiled(tf.constant([3, 4])).numpy()
    np.testing.assert_array_equal(first, compiled(tf.constant([3, 4])).numpy())
    if case != "center_box":
        assert not np.array_equal(first, compiled(tf.constant([3, 5])).numpy())


@pytest.mark.parametrize("case", IDENTICAL)
def test_xla_gives_the_graphs_masks(case):
    seed = tf.constant([5, 6])
    graph = mask_function(case, SIZES[0], False)(seed).numpy()
    np.testing.assert_array_equal(mask_function(case, SIZES[0], True)(seed).numpy(), graph)


@pytest.mark.parametrize("case", ["irregular_strokes", "free_form"])
def test_xla_strokes_keep_the_graphs_hole_ratios(case):
    # 64 masks' hole ratios agree in mean and spread, and most masks are the
    # graph's up to a few edge pixels.
    seed = tf.constant([7, 8])
    graph = mask_function(case, SIZES[0], False, batch=64)(seed).numpy()
    xla = mask_function(case, SIZES[0], True, batch=64)(seed).numpy()
    graph_ratios, xla_ratios = hole_ratios(graph), hole_ratios(xla)
    assert abs(xla_ratios.mean() - graph_ratios.mean()) < 0.01
    np.testing.assert_allclose(
        np.percentile(xla_ratios, [10, 50, 90]),
        np.percentile(graph_ratios, [10, 50, 90]),
        atol=0.02,
    )
    differing = (xla != graph).reshape(64, -1).sum(axis=1)
    assert np.median(differing) <= 16


def uniform_draw(seed):
    return draws.uniform([3, 50], seed, 0.5, 7.25)


def unit_draw(seed):
    return draws.uniform([200], seed, 0.0, 1.0)


def test_uniform_draws_are_the_kernels_and_xlas():
    seed = tf.constant([9, 10])
    expected = tf.random.stateless_uniform([3, 50], seed, 0.5, 7.25, alg="philox").numpy()
    np.testing.assert_array_equal(tf.function(uniform_draw)(seed).numpy(), expected)
    xla_unit = tf.function(unit_draw, jit_compile=True)(seed).numpy()
    np.testing.assert_array_equal(xla_unit, tf.function(unit_draw)(seed).numpy())
