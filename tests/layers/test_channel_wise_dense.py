import keras
import numpy as np
import pytest

from keras_inpaint.layers import ChannelWiseDense


def _numpy_reference(x, kernel, bias):
    """Loop over channels: each channel's flattened map times its own (HW x HW) matrix."""
    batch, height, width, channels = x.shape
    out = np.zeros_like(x)
    for b in range(batch):
        for c in range(channels):
            flat = x[b, :, :, c].reshape(height * width)
            out[b, :, :, c] = (flat @ kernel[c]).reshape(height, width)
    if bias is not None:
        out = out + bias
    return out


@pytest.mark.parametrize("shape", [(2, 3, 3, 4), (3, 2, 5, 6)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_matches_numpy_loop(shape, use_bias):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype("float32")
    layer = ChannelWiseDense(use_bias=use_bias)
    layer.build(shape)
    if use_bias:
        layer.bias.assign(rng.normal(size=layer.bias.shape).astype("float32"))
    out = keras.ops.convert_to_numpy(layer(x))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    bias = keras.ops.convert_to_numpy(layer.bias) if use_bias else None
    np.testing.assert_allclose(out, _numpy_reference(x, kernel, bias), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n, m", [(2, 256), (6, 256), (4, 8)])
def test_exact_weight_count(n, m):
    layer = ChannelWiseDense()
    layer.build((None, n, n, m))
    assert layer.count_params() == m * n**4 + m * n * n
    assert tuple(layer.kernel.shape) == (m, n * n, n * n)
    no_bias = ChannelWiseDense(use_bias=False)
    no_bias.build((None, n, n, m))
    assert no_bias.count_params() == m * n**4


def test_pathak_alexnet_count():
    # The paper's pool5 (6x6x256) channel-wise layer: 256 * 6^4 weights.
    layer = ChannelWiseDense(use_bias=False)
    layer.build((None, 6, 6, 256))
    assert layer.count_params() == 331_776


def test_no_cross_channel_weights():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 3, 3, 5)).astype("float32")
    layer = ChannelWiseDense()
    base = keras.ops.convert_to_numpy(layer(x))
    x2 = x.copy()
    x2[..., 2] += 1.0
    changed = np.abs(keras.ops.convert_to_numpy(layer(x2)) - base).max(axis=(0, 1, 2)) > 0
    np.testing.assert_array_equal(changed, [False, False, True, False, False])


def test_default_initializer_is_per_channel_glorot():
    layer = ChannelWiseDense()
    layer.build((None, 6, 6, 64))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    # Glorot with fan_in = fan_out = 36 positions: variance 1 / 36.
    assert abs(kernel.std() - (1 / 36) ** 0.5) < 0.01


def test_needs_static_shape():
    with pytest.raises(ValueError, match="static"):
        ChannelWiseDense().build((None, None, None, 8))


def test_config_round_trip_and_keras_file(tmp_path):
    layer = ChannelWiseDense(use_bias=True, kernel_regularizer="l2", name="cwfc")
    clone = ChannelWiseDense.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    inputs = keras.Input((2, 2, 8))
    model = keras.Model(inputs, layer(inputs))
    path = str(tmp_path / "cwfc.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(3).normal(size=(2, 2, 2, 8)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x))
    )
