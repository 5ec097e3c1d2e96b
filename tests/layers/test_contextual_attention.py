import keras
import numpy as np
import pytest

from keras_inpaint.layers.contextual_attention import ContextualAttention

IMPLEMENTATIONS = ["fused", "patches"]


def numpy_reference(x, mask, scale, epsilon=1e-6):
    """PEPSI's CAM with explicit loops over positions, patches and pasted pixels."""
    batch, height, width, channels = x.shape
    factor = mask.shape[1] // height
    hole = mask[..., 0].reshape(batch, height, factor, width, factor).max(axis=(2, 4))
    x_pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    hole_pad = np.pad(hole, ((0, 0), (1, 1), (1, 1)))
    positions = [(i, j) for i in range(height) for j in range(width)]
    out = x.copy()
    for b in range(batch):
        patches = np.stack([x_pad[b, i : i + 3, j : j + 3].reshape(-1) for i, j in positions])
        background = np.array([hole_pad[b, i : i + 3, j : j + 3].max() == 0 for i, j in positions])
        rebuilt = np.zeros_like(patches)
        if background.any():
            for q in range(len(positions)):
                distance = np.sqrt(((patches[q] - patches) ** 2).sum(axis=-1) + epsilon)
                mean = distance[background].mean()
                std = np.sqrt(((distance[background] - mean) ** 2).mean() + epsilon)
                logits = scale * np.tanh(-(distance - mean) / std)
                weights = np.where(background, np.exp(logits - logits[background].max()), 0.0)
                rebuilt[q] = (weights / weights.sum()) @ patches
        total = np.zeros((height + 2, width + 2, channels))
        count = np.zeros((height + 2, width + 2, 1))
        for q, (i, j) in enumerate(positions):
            total[i : i + 3, j : j + 3] += rebuilt[q].reshape(3, 3, channels)
            count[i : i + 3, j : j + 3] += 1
        pasted = total[1:-1, 1:-1] / count[1:-1, 1:-1]
        out[b] = np.where(hole[b][..., None] > 0, pasted, x[b])
    return out


def two_masks(height, width, factor):
    mask = np.zeros((2, height * factor, width * factor, 1), "float32")
    mask[0, factor : 3 * factor, factor : 3 * factor] = 1.0
    mask[1, : 2 * factor, -3 * factor :] = 1.0
    return mask


def run(layer, x, mask):
    return keras.ops.convert_to_numpy(layer([x, mask]))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "height, width, channels, factor, scale",
    [(5, 6, 3, 1, 50.0), (6, 6, 4, 2, 5.0), (4, 7, 2, 1, 1.0)],
)
def test_matches_numpy_loop_reference(implementation, height, width, channels, factor, scale):
    rng = np.random.default_rng(height * 10 + channels)
    x = rng.normal(size=(2, height, width, channels)).astype("float32")
    mask = two_masks(height, width, factor)
    expected = numpy_reference(x.astype("float64"), mask.astype("float64"), scale)
    actual = run(ContextualAttention(scale=scale, implementation=implementation), x, mask)
    np.testing.assert_allclose(actual, expected, atol=2e-5)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_hole_values_never_reach_the_output(implementation):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 8, 8, 4)).astype("float32")
    mask = two_masks(8, 8, 4)
    hole = mask[:, ::4, ::4] > 0
    poisoned = np.where(hole, 1e3, x).astype("float32")
    out = run(ContextualAttention(scale=50.0, implementation=implementation), poisoned, mask)
    # Rebuilt hole cells are averages of known features (and zero padding), all in [-1, 1]:
    # a single attended hole cell would bring 1e3 with it.
    assert np.abs(out[np.broadcast_to(hole, out.shape)]).max() <= 1.0
    np.testing.assert_array_equal(out[~hole[..., 0]], x[~hole[..., 0]])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_patches_touching_the_hole_are_never_attended(implementation):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    mask = two_masks(8, 8, 2)
    hole = mask[:, ::2, ::2, 0] > 0
    padded = np.pad(hole, ((0, 0), (1, 1), (1, 1)))
    touches = np.stack(
        [
            [padded[b, i : i + 3, j : j + 3].any() for i in range(8) for j in range(8)]
            for b in (0, 1)
        ]
    )
    layer = ContextualAttention(scale=50.0, implementation=implementation)
    for value in (1e3, -1e3, 0.0, 7.5):
        filled = np.where(hole[..., None], value, x).astype("float32")
        weights = keras.ops.convert_to_numpy(layer.attention_weights([filled, mask]))
        assert weights.shape == (2, 64, 64)
        for b in (0, 1):
            assert np.all(weights[b][:, touches[b]] == 0.0)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)


def test_implementations_agree_at_pepsi_shape():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 16, 16, 32)).astype("float32")
    mask = np.zeros((1, 128, 128, 1), "float32")
    mask[:, 32:96, 40:100] = 1.0
    fused = run(ContextualAttention(implementation="fused"), x, mask)
    patches = run(ContextualAttention(implementation="patches"), x, mask)
    np.testing.assert_allclose(fused, patches, atol=1e-4)


def test_exact_match_is_copied_with_a_large_scale():
    """A hole cell whose surroundings have a twin in the known region is rebuilt as the twin."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 9, 9, 2)).astype("float32")
    # The 5x5 block around cell (6, 2) repeats the one around (2, 6), so each of the
    # 9 patches pasted into (6, 2) has an exact, known twin.
    x[0, 4:9, 0:5] = x[0, 0:5, 4:9]
    mask = np.zeros((1, 9, 9, 1), "float32")
    mask[0, 6, 2] = 1.0
    layer = ContextualAttention(scale=1e3)
    out = run(layer, x, mask)
    np.testing.assert_allclose(out[0, 6, 2], x[0, 2, 6], atol=1e-3)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_all_hole_image_gets_zeros_not_nan(implementation):
    x = np.ones((1, 4, 4, 2), "float32")
    mask = np.ones((1, 4, 4, 1), "float32")
    out = run(ContextualAttention(implementation=implementation), x, mask)
    np.testing.assert_array_equal(out, np.zeros_like(out))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_gradients_are_finite_for_identical_patches(implementation):
    import tensorflow as tf

    x = tf.Variable(np.ones((1, 5, 5, 2), "float32"))
    mask = two_masks(5, 5, 1)[:1]
    layer = ContextualAttention(implementation=implementation)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer([x, mask]) ** 2)
    gradient = tape.gradient(loss, x).numpy()
    assert np.all(np.isfinite(gradient))


def test_config_round_trip_and_no_weights():
    layer = ContextualAttention(scale=10.0, implementation="patches", epsilon=1e-5, name="cam")
    clone = ContextualAttention.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    layer([np.zeros((1, 4, 4, 2), "float32"), np.zeros((1, 8, 8, 1), "float32")])
    assert layer.count_params() == 0


@pytest.mark.parametrize(
    "kwargs, shapes, message",
    [
        ({"implementation": "loops"}, None, "implementation"),
        ({}, ((1, 4, 4, 2), (1, 6, 6, 1)), "integer multiple"),
        ({}, ((1, 4, 4, 2), (1, 8, 12, 1)), "same factor"),
    ],
)
def test_invalid(kwargs, shapes, message):
    with pytest.raises(ValueError, match=message):
        layer = ContextualAttention(**kwargs)
        layer([np.zeros(shape, "float32") for shape in shapes])
