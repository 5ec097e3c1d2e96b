import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.layers.partial_conv2d import PartialConv2D

# --- A slow reference, written from the paper's formula ----------------------------------------


def _same_padding(length, kernel, stride, dilation):
    """TensorFlow's "SAME": output ceil(length / stride), the extra pixel at the end."""
    effective = dilation * (kernel - 1) + 1
    out = -(-length // stride)
    total = max((out - 1) * stride + effective - length, 0)
    return out, total // 2, total - total // 2


def reference_partial_conv(features, valid, kernel, bias, strides, dilation, padding):
    """`W^T (X * M) * sum(1) / sum(M) + b` per window, with explicit loops."""
    batch, height, width, channels = features.shape
    mask_channels = valid.shape[-1]
    kh, kw, _, filters = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation
    if padding == "same":
        out_h, top, bottom = _same_padding(height, kh, sh, dh)
        out_w, left, right = _same_padding(width, kw, sw, dw)
    else:
        out_h = (height - (dh * (kh - 1) + 1)) // sh + 1
        out_w = (width - (dw * (kw - 1) + 1)) // sw + 1
        top = bottom = left = right = 0
    pad = ((0, 0), (top, bottom), (left, right), (0, 0))
    x = np.pad(features.astype(np.float64), pad)
    m = np.pad(valid.astype(np.float64), pad)
    out = np.zeros((batch, out_h, out_w, filters))
    new_mask = np.zeros((batch, out_h, out_w, 1))
    window = kh * kw * mask_channels
    for i in range(out_h):
        for j in range(out_w):
            rows = i * sh + dh * np.arange(kh)
            cols = j * sw + dw * np.arange(kw)
            x_win = x[:, rows][:, :, cols]  # (B, kh, kw, C)
            m_win = m[:, rows][:, :, cols]  # (B, kh, kw, Cm)
            valid_sum = m_win.sum(axis=(1, 2, 3))
            conv = np.einsum("bhwc,hwcf->bf", x_win * m_win, kernel)
            has_valid = valid_sum > 0
            scale = np.where(has_valid, window / np.maximum(valid_sum, 1e-12), 0.0)
            out[:, i, j] = np.where(has_valid[:, None], conv * scale[:, None] + bias, 0.0)
            new_mask[:, i, j, 0] = has_valid
    return out, new_mask


def random_inputs(rng, batch, size, channels, mask_channels, hole_fraction=0.5, block=0.0):
    """Random features and a random valid mask, optionally with a hole block in the corner."""
    features = rng.normal(size=(batch, size, size, channels)).astype("float32")
    valid = (rng.uniform(size=(batch, size, size, mask_channels)) > hole_fraction).astype("float32")
    side = int(np.ceil(block * size))
    valid[:, :side, :side] = 0.0
    return features, valid


def run_layer(layer, features, valid):
    outputs, mask = layer([features, valid])
    return keras.ops.convert_to_numpy(outputs), keras.ops.convert_to_numpy(mask)


def randomize_bias(layer, rng):
    layer.bias.assign(rng.normal(size=layer.bias.shape).astype("float32"))


# --- Values against the reference --------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel, strides, dilation, padding, channels, mask_channels, size",
    [
        (3, 1, 1, "same", 3, 1, 9),
        (3, 2, 1, "same", 4, 4, 10),
        (5, 2, 1, "same", 2, 1, 11),
        (7, 2, 1, "same", 3, 3, 16),
        (3, 1, 2, "same", 5, 5, 9),
        (3, 1, 3, "valid", 2, 1, 12),
        ((3, 5), (2, 1), 1, "valid", 3, 3, 12),
        (1, 1, 1, "same", 6, 1, 5),
        (4, 2, 1, "same", 1, 1, 9),
    ],
)
def test_matches_numpy_reference(kernel, strides, dilation, padding, channels, mask_channels, size):
    rng = np.random.default_rng(hash((size, channels, mask_channels)) % 2**32)
    layer = PartialConv2D(
        7, kernel, strides=strides, dilation_rate=dilation, padding=padding, name="pconv"
    )
    # Random holes plus a hole block larger than any window: both branches of the formula.
    features, valid = random_inputs(rng, 2, size, channels, mask_channels, 0.6, block=0.75)
    layer([features, valid])
    randomize_bias(layer, rng)
    outputs, mask = run_layer(layer, features, valid)
    expected, expected_mask = reference_partial_conv(
        features,
        valid,
        keras.ops.convert_to_numpy(layer.kernel),
        keras.ops.convert_to_numpy(layer.bias),
        layer.strides,
        layer.dilation_rate,
        padding,
    )
    assert outputs.shape == expected.shape
    assert mask.shape == expected_mask.shape
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-4)
    assert 0 < expected_mask.mean() < 1


def test_output_shapes_follow_conv2d():
    for strides, dilation, padding in [(1, 1, "same"), (2, 1, "same"), (1, 2, "valid")]:
        layer = PartialConv2D(5, 3, strides=strides, dilation_rate=dilation, padding=padding)
        conv = keras.layers.Conv2D(5, 3, strides=strides, dilation_rate=dilation, padding=padding)
        x = np.zeros((1, 13, 13, 2), "float32")
        outputs, mask = layer([x, np.ones((1, 13, 13, 1), "float32")])
        assert outputs.shape == conv(x).shape
        assert mask.shape == (*conv(x).shape[:3], 1)
        assert layer.compute_output_shape([(None, 13, 13, 2), (None, 13, 13, 1)])[0] == (
            None,
            *conv(x).shape[1:],
        )


# --- The paper's special cases ------------------------------------------------------------------


def test_all_hole_window_gives_zero_and_zero_mask():
    layer = PartialConv2D(4, 3, bias_initializer="ones")
    features = np.random.default_rng(0).normal(size=(1, 9, 9, 3)).astype("float32") * 1e3
    valid = np.ones((1, 9, 9, 1), "float32")
    valid[:, 2:7, 2:7] = 0.0  # the 3x3 windows centred in rows/cols 3..5 see only holes
    outputs, mask = run_layer(layer, features, valid)
    assert np.all(np.isfinite(outputs))
    np.testing.assert_array_equal(outputs[:, 3:6, 3:6], 0.0)  # bias not added there either
    np.testing.assert_array_equal(mask[:, 3:6, 3:6], 0.0)
    assert mask[0, 2, 2, 0] == 1.0 and np.all(outputs[:, 2, 2] != 0.0)

    everything = np.zeros_like(valid)
    outputs, mask = run_layer(layer, features, everything)
    np.testing.assert_array_equal(outputs, 0.0)
    np.testing.assert_array_equal(mask, 0.0)


def test_all_hole_input_has_finite_gradients():
    layer = PartialConv2D(4, 3)
    features = tf.Variable(np.ones((1, 6, 6, 2), "float32"))
    valid = np.zeros((1, 6, 6, 1), "float32")
    with tf.GradientTape() as tape:
        outputs, _ = layer([features, valid])
        loss = tf.reduce_sum(outputs)
    gradients = tape.gradient(loss, [features, *layer.trainable_weights])
    for gradient in gradients:
        assert np.all(np.isfinite(gradient.numpy()))


@pytest.mark.parametrize("mask_channels", [1, 3])
def test_one_valid_pixel_is_rescaled_by_the_window_size(mask_channels):
    # W = 1, b = 0, X = 1 and one valid pixel: W^T (X * M) counts the valid (pixel, channel)
    # entries (3 channels through a shared one-channel mask, 1 through its own channel of a
    # 3-channel mask), and the window sum(M) is 1, so the factor is exactly
    # sum(1) = kernel_h * kernel_w * mask_channels.
    layer = PartialConv2D(2, (3, 5), kernel_initializer="ones")
    features = np.ones((1, 7, 7, 3), "float32")
    valid = np.zeros((1, 7, 7, mask_channels), "float32")
    valid[0, 3, 3, 0] = 1.0
    outputs, mask = run_layer(layer, features, valid)
    valid_entries = 3 if mask_channels == 1 else 1
    factor = 3 * 5 * mask_channels
    np.testing.assert_array_equal(outputs[0, 3, 3], [valid_entries * factor] * 2)
    assert mask[0, 3, 3, 0] == 1.0
    # Every window holding that pixel gets the same factor; the others are empty.
    np.testing.assert_array_equal(outputs[0, 2:5, 1:6], valid_entries * factor)
    assert mask[0].sum() == 3 * 5 and outputs[0].sum() == 3 * 5 * 2 * valid_entries * factor


def test_full_window_is_a_plain_convolution():
    rng = np.random.default_rng(1)
    layer = PartialConv2D(4, 3, padding="valid")
    features = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    outputs, mask = run_layer(layer, features, np.ones((2, 8, 8, 1), "float32"))
    conv = keras.layers.Conv2D(4, 3, padding="valid")
    conv.build(features.shape)
    conv.set_weights(layer.get_weights())
    np.testing.assert_allclose(outputs, keras.ops.convert_to_numpy(conv(features)), atol=1e-5)
    np.testing.assert_array_equal(mask, 1.0)


def test_same_padding_counts_the_border_as_holes():
    layer = PartialConv2D(1, 3, kernel_initializer="ones", use_bias=False)
    outputs, mask = run_layer(
        layer, np.ones((1, 4, 4, 1), "float32"), np.ones((1, 4, 4, 1), "float32")
    )
    # A corner window holds 4 of its 9 pixels: 4 * 9 / 4 = 9, like the interior.
    np.testing.assert_allclose(outputs[0, :, :, 0], 9.0)
    np.testing.assert_array_equal(mask, 1.0)


def test_output_ignores_hole_values():
    rng = np.random.default_rng(2)
    layer = PartialConv2D(3, 3, strides=2)
    features, valid = random_inputs(rng, 2, 12, 3, 1)
    noisy = features + (1.0 - valid) * rng.normal(size=features.shape).astype("float32") * 100
    np.testing.assert_allclose(
        run_layer(layer, noisy, valid)[0], run_layer(layer, features, valid)[0], atol=1e-4
    )


# --- Weights, dtype, config, saving -------------------------------------------------------------


def test_mask_kernel_is_not_a_weight():
    layer = PartialConv2D(8, 3)
    layer([np.zeros((1, 6, 6, 4), "float32"), np.ones((1, 6, 6, 4), "float32")])
    assert [w.path.split("/")[-1] for w in layer.trainable_weights] == ["kernel", "bias"]
    assert layer.non_trainable_weights == []
    assert layer.count_params() == 3 * 3 * 4 * 8 + 8
    no_bias = PartialConv2D(8, 3, use_bias=False)
    no_bias([np.zeros((1, 6, 6, 4), "float32"), np.ones((1, 6, 6, 1), "float32")])
    assert [w.path.split("/")[-1] for w in no_bias.trainable_weights] == ["kernel"]


def test_mixed_precision_matches_float32():
    rng = np.random.default_rng(3)
    features, valid = random_inputs(rng, 1, 8, 4, 4)
    full = PartialConv2D(4, 3, name="full")
    half = PartialConv2D(4, 3, dtype="mixed_float16", name="half")
    run_layer(full, features, valid)
    run_layer(half, features, valid)
    half.set_weights(full.get_weights())
    out_full, mask_full = run_layer(full, features, valid)
    out_half, mask_half = run_layer(half, features, valid)
    assert out_half.dtype == np.float16
    np.testing.assert_array_equal(mask_half, mask_full)
    np.testing.assert_allclose(out_half.astype("float32"), out_full, rtol=2e-2, atol=2e-2)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="channels"):
        PartialConv2D(4, 3)([np.zeros((1, 6, 6, 4), "float32"), np.ones((1, 6, 6, 2), "float32")])
    with pytest.raises(ValueError, match="dilation_rate"):
        PartialConv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="padding"):
        PartialConv2D(4, 3, padding="causal")


def test_config_round_trip_and_keras_file(tmp_path):
    layer = PartialConv2D(6, (3, 5), strides=(2, 1), padding="valid", use_bias=False, name="pconv")
    clone = PartialConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    features = keras.Input((12, 12, 3))
    valid = keras.Input((12, 12, 1))
    outputs, mask = PartialConv2D(6, 3, strides=2, name="pconv")([features, valid])
    model = keras.Model([features, valid], [outputs, mask])
    rng = np.random.default_rng(4)
    inputs = random_inputs(rng, 2, 12, 3, 1)
    path = tmp_path / "pconv.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    for expected, actual in zip(model(list(inputs)), restored(list(inputs)), strict=True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(actual), keras.ops.convert_to_numpy(expected)
        )
