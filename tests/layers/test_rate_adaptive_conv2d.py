import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.layers.rate_adaptive_conv2d import RateAdaptiveConv2D


def random_layer(channels, filters, rates, seed=0):
    layer = RateAdaptiveConv2D(filters, dilation_rates=rates)
    layer.build((None, 16, 16, channels))
    rng = np.random.default_rng(seed)
    for variable in (layer.scale, layer.shift):
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    return layer


@pytest.mark.parametrize("rate_index, rate", [(0, 1), (1, 2), (2, 5)])
def test_each_rate_is_a_dilated_conv_with_scaled_kernel_and_shift(rate_index, rate):
    layer = random_layer(3, 4, [1, 2, 5])
    x = np.random.default_rng(1).normal(size=(2, 16, 16, 3)).astype("float32")
    scale = layer.scale.numpy()[rate_index]
    shift = layer.shift.numpy()[rate_index]
    conv = keras.layers.Conv2D(4, 3, dilation_rate=rate, padding="same")
    conv.build((None, 16, 16, 3))
    # gamma_r * conv(x, W) + beta_r is the conv with kernel gamma_r * W and bias beta_r.
    conv.set_weights([layer.kernel.numpy() * scale, shift])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x, rate_index=rate_index)),
        keras.ops.convert_to_numpy(conv(x)),
        atol=1e-5,
    )


def test_one_kernel_for_all_rates():
    layer = RateAdaptiveConv2D(8, dilation_rates=[2, 4, 8, 16])
    inputs = keras.Input((32, 32, 8))
    x = inputs
    for i in range(4):
        x = layer(x, rate_index=i)
    model = keras.Model(inputs, x)
    assert len(model.trainable_variables) == 3
    assert model.count_params() == 3 * 3 * 8 * 8 + 2 * 4 * 8
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(np.ones((1, 32, 32, 8), "float32")))
    gradients = tape.gradient(loss, [layer.scale, layer.shift])
    # Every rate's scale and shift receives a gradient: all four calls are used.
    for gradient in gradients:
        assert np.all(np.abs(gradient.numpy()).sum(axis=1) > 0)


def test_per_rate_modulation_is_one_scale_and_one_shift_per_output_channel():
    layer = RateAdaptiveConv2D(4, dilation_rates=[1, 2, 5])
    layer.build((None, 16, 16, 3))
    # A vector per rate (models/pepsi/README.md, "Diet-PEPSI: the paper's layer, ours, and
    # the 30 %"), not a kernel-sized tensor, and no bias besides the shift.
    assert tuple(layer.scale.shape) == (3, 4)
    assert tuple(layer.shift.shape) == (3, 4)
    assert [variable.path.split("/")[-1] for variable in layer.trainable_variables] == [
        "kernel",
        "scale",
        "shift",
    ]
    x = np.random.default_rng(2).normal(size=(1, 16, 16, 3)).astype("float32")
    before = [keras.ops.convert_to_numpy(layer(x, rate_index=i)) for i in range(3)]
    scale = layer.scale.numpy()
    scale[1, 2] = 3.0
    layer.scale.assign(scale)
    after = [keras.ops.convert_to_numpy(layer(x, rate_index=i)) for i in range(3)]
    # gamma_{r=2}[2] scales output channel 2 of rate 2 only (the shift is still 0).
    np.testing.assert_allclose(after[1][..., 2], 3.0 * before[1][..., 2], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(after[1][..., [0, 1, 3]], before[1][..., [0, 1, 3]])
    for i in (0, 2):
        np.testing.assert_array_equal(after[i], before[i])


def test_seed_size_count():
    layer = RateAdaptiveConv2D(256)
    layer.build((None, 32, 32, 256))
    # One 3x3x256x256 kernel instead of four 3x3x256x256 convs with biases.
    assert layer.count_params() == 3 * 3 * 256 * 256 + 2 * 4 * 256


def test_config_round_trip_and_keras_file(tmp_path):
    layer = RateAdaptiveConv2D(4, dilation_rates=[1, 3], kernel_size=5, name="ra")
    clone = RateAdaptiveConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, layer(layer(inputs, rate_index=0), rate_index=1))
    path = tmp_path / "rate_adaptive.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 4)).astype("float32")
    np.testing.assert_allclose(restored(x), model(x), atol=1e-6)


@pytest.mark.parametrize("rates", [[], [0, 2]])
def test_invalid_rates(rates):
    with pytest.raises(ValueError, match="dilation_rates"):
        RateAdaptiveConv2D(4, dilation_rates=rates)


def test_invalid_rate_index():
    layer = RateAdaptiveConv2D(2, dilation_rates=[1, 2])
    with pytest.raises(ValueError, match="rate_index"):
        layer(np.zeros((1, 4, 4, 2), "float32"), rate_index=2)
