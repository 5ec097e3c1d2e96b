import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.layers import HoleFill, ResidualComposite
from keras_inpaint.models.context_encoder import ContextEncoderGenerator, DCGANDiscriminator

# --- Parameter arithmetic, independent of the model code -------------------------------------


def conv(k, cin, cout):
    """Conv2D / Conv2DTranspose with bias."""
    return k * k * cin * cout + cout


def bn(c):
    """(trainable gamma + beta, non-trainable moving mean + variance)."""
    return 2 * c, 2 * c


def count(convs, norms):
    trainable = sum(convs) + sum(bn(c)[0] for c in norms)
    return trainable, trainable + sum(bn(c)[1] for c in norms)


def dcgan_generator_counts(in_ch, enc, bottleneck, dec):
    enc_convs = [conv(4, cin, cout) for cin, cout in zip([in_ch] + enc[:-1], enc, strict=True)]
    encoder = count(enc_convs, enc[1:])[0]
    bottleneck_part = count([conv(4, enc[-1], bottleneck)], [bottleneck])[0]
    dec_convs = [
        conv(4, cin, cout) for cin, cout in zip([bottleneck] + dec, dec + [3], strict=True)
    ]
    decoder = count(dec_convs, dec)[0]
    norms = enc[1:] + [bottleneck] + dec
    total = encoder + bottleneck_part + decoder + sum(bn(c)[1] for c in norms)
    return {"encoder": encoder, "bottleneck": bottleneck_part, "decoder": decoder}, total


def alexnet_generator_counts(in_ch, enc, mix, dec, pool5):
    kernels = [11, 5, 3, 3, 3]
    enc_convs = [
        conv(k, cin, cout) for k, cin, cout in zip(kernels, [in_ch] + enc[:-1], enc, strict=True)
    ]
    encoder = count(enc_convs, enc)[0]
    m = enc[-1]
    channel_wise = m * pool5**4 + m * pool5**2
    bottleneck_part = channel_wise + count([conv(1, m, mix)], [mix])[0]
    dec_convs = [conv(4, cin, cout) for cin, cout in zip([mix] + dec, dec + [3], strict=True)]
    decoder = count(dec_convs, dec)[0]
    norms = enc + [mix] + dec
    total = encoder + bottleneck_part + decoder + sum(bn(c)[1] for c in norms)
    return {"encoder": encoder, "bottleneck": bottleneck_part, "decoder": decoder}, total


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# --- Helpers ----------------------------------------------------------------------------------


def make_inputs(size, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32")
    mask = np.zeros((batch, size, size, 1), "float32")
    q = size // 4
    mask[:, q : size - q, q : size - q] = 1.0
    return image * (1 - mask), mask


def assert_config_round_trip(model):
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.count_params() == model.count_params()
    assert trainable_count(clone) == trainable_count(model)


def assert_keras_file_round_trip(model, inputs, tmp_path):
    path = str(tmp_path / f"{model.name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(inputs, training=False)),
        keras.ops.convert_to_numpy(model(inputs, training=False)),
    )


TINY = {"image_size": 32, "encoder_filters": [8, 8, 16], "bottleneck": 32}
TINY_ALEXNET = {
    "image_size": 96,
    "encoder": "alexnet",
    "encoder_filters": [8, 8, 8, 8, 8],
    "bottleneck": 8,
}


# --- Full-size presets: shapes and parameter counts --------------------------------------------


@pytest.fixture(scope="module")
def presets():
    return {
        "dcgan_center": ContextEncoderGenerator(),
        "dcgan_full": ContextEncoderGenerator(variant="full"),
        "alexnet_center": ContextEncoderGenerator(encoder="alexnet"),
        "alexnet_full": ContextEncoderGenerator(encoder="alexnet", variant="full"),
    }


@pytest.mark.parametrize(
    "preset, size",
    [("dcgan_center", 64), ("dcgan_full", 128), ("alexnet_center", 64), ("alexnet_full", 128)],
)
def test_preset_output_shapes(presets, preset, size):
    model = presets[preset]
    assert model.output_shape == (None, size, size, 3)
    out = keras.ops.convert_to_numpy(model(make_inputs(128, batch=1), training=False))
    assert out.shape == (1, size, size, 3)
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0


def test_dcgan_center_128_param_counts(presets):
    model = presets["dcgan_center"]
    assert model.get_config()["encoder_filters"] == [64, 64, 128, 256, 512]
    assert model.get_config()["decoder_filters"] == [512, 256, 128, 64]
    parts, total = dcgan_generator_counts(4, [64, 64, 128, 256, 512], 4000, [512, 256, 128, 64])
    assert model.submodule_params() == parts
    assert parts == {"encoder": 2_825_088, "bottleneck": 32_780_000, "decoder": 35_526_467}
    assert model.count_params() == total == 71_143_395
    assert trainable_count(model) == sum(parts.values()) == 71_131_555


def test_dcgan_full_128_param_counts(presets):
    model = presets["dcgan_full"]
    # One more 64-filter up-conv, as Pathak's train_random.lua at 128.
    assert model.get_config()["decoder_filters"] == [512, 256, 128, 64, 64]
    parts, total = dcgan_generator_counts(4, [64, 64, 128, 256, 512], 4000, [512, 256, 128, 64, 64])
    assert model.submodule_params() == parts
    assert parts["decoder"] == 35_592_195
    assert model.count_params() == total == 71_209_251
    assert trainable_count(model) == sum(parts.values()) == 71_197_283


def test_alexnet_center_128_param_counts(presets):
    model = presets["alexnet_center"]
    assert model.get_layer("encoder_pool5").output.shape == (None, 2, 2, 256)
    assert model.get_layer("encoder_pool1").output.shape == (None, 14, 14, 96)
    assert model.get_layer("encoder_pool2").output.shape == (None, 6, 6, 256)
    assert model.get_config()["decoder_filters"] == [128, 64, 64, 32]
    parts, total = alexnet_generator_counts(4, [96, 256, 384, 384, 256], 256, [128, 64, 64, 32], 2)
    assert model.submodule_params() == parts
    assert parts == {"encoder": 3_761_568, "bottleneck": 71_424, "decoder": 756_067}
    assert model.count_params() == total == 4_592_899
    assert trainable_count(model) == sum(parts.values()) == 4_589_059


def test_alexnet_full_128_param_counts(presets):
    model = presets["alexnet_full"]
    assert model.get_config()["decoder_filters"] == [256, 128, 64, 64, 32]
    parts, total = alexnet_generator_counts(
        4, [96, 256, 384, 384, 256], 256, [256, 128, 64, 64, 32], 2
    )
    assert model.submodule_params() == parts
    assert parts["decoder"] == 1_805_411
    assert model.count_params() == total == 5_642_755


def test_mask_channel_off_feeds_rgb_only():
    model = ContextEncoderGenerator(mask_channel=False, **TINY)
    assert model.get_layer("encoder_block1_conv").kernel.shape == (4, 4, 3, 8)
    with_mask = ContextEncoderGenerator(**TINY)
    assert with_mask.get_layer("encoder_block1_conv").kernel.shape == (4, 4, 4, 8)
    assert with_mask.count_params() - model.count_params() == 4 * 4 * 1 * 8


# --- Tiny configs: behaviour -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, out_size",
    [
        (TINY, 16),
        ({**TINY, "variant": "full"}, 32),
        (TINY_ALEXNET, 48),  # pool5 is 1x1: 6 up-convs to 64, resized to 48
        ({**TINY_ALEXNET, "variant": "full"}, 96),
    ],
)
def test_tiny_forward_and_gradients(kwargs, out_size):
    model = ContextEncoderGenerator(**kwargs)
    size = kwargs["image_size"]
    inputs = make_inputs(size)
    with tf.GradientTape() as tape:
        out = model(inputs, training=True)
        loss = tf.reduce_mean(tf.square(out))
    assert out.shape == (2, out_size, out_size, 3)
    grads = tape.gradient(loss, model.trainable_weights)
    # Every trainable weight is connected to the output.
    assert all(g is not None for g in grads)


def test_alexnet_resize_only_when_needed():
    assert "decoder_output_resize" in [
        layer.name for layer in ContextEncoderGenerator(**TINY_ALEXNET).layers
    ]
    names = [layer.name for layer in ContextEncoderGenerator(encoder="alexnet").layers]
    assert "decoder_output_resize" not in names


def test_hole_content_is_ignored():
    # The generator fills the hole itself, so whatever the hole holds cannot matter.
    model = ContextEncoderGenerator(**TINY)
    image, mask = make_inputs(32)
    noisy = image + mask * np.random.default_rng(5).normal(size=image.shape).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model([noisy, mask], training=False)),
        keras.ops.convert_to_numpy(model([image, mask], training=False)),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {**TINY, "fill_value": 0.3},
        {**TINY, "variant": "full", "fill": "known_mean"},
        {**TINY_ALEXNET, "fill_value": [0.1, -0.2, 0.3]},
        {**TINY_ALEXNET, "variant": "full", "fill": "known_mean"},
    ],
)
def test_residual_with_zeroed_last_layer_outputs_filled_input(kwargs):
    model = ContextEncoderGenerator(residual=True, **kwargs)
    last = model.get_layer("decoder_output_convT")
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    size = kwargs["image_size"]
    image, mask = make_inputs(size)
    filled = keras.ops.convert_to_numpy(
        HoleFill(mode=kwargs.get("fill", "constant"), value=kwargs.get("fill_value", 0.0))(
            [image, mask]
        )
    )
    if kwargs.get("variant", "center") == "center":
        q = size // 4
        filled = filled[:, q : size - q, q : size - q]
    out = keras.ops.convert_to_numpy(model([image, mask], training=False))
    np.testing.assert_allclose(out, filled, atol=1e-6)


def test_zero_init_output_starts_the_residual_network_at_its_fill():
    model = ContextEncoderGenerator(
        residual=True, zero_init_output=True, **{**TINY, "variant": "full", "fill": "push_pull"}
    )
    image, mask = make_inputs(32)
    filled = keras.ops.convert_to_numpy(HoleFill(mode="push_pull")([image, mask]))
    out = keras.ops.convert_to_numpy(model([image, mask], training=False))
    np.testing.assert_allclose(out, filled, atol=1e-6)
    assert ContextEncoderGenerator.from_config(model.get_config()).zero_init_output
    plain = ContextEncoderGenerator(
        residual=True, **{**TINY, "variant": "full", "fill": "push_pull"}
    )
    assert not np.allclose(keras.ops.convert_to_numpy(plain([image, mask])), filled)


def test_residual_output_is_clipped():
    out = ResidualComposite()(
        [np.full((1, 2, 2, 3), 0.9, "float32"), np.full((1, 2, 2, 3), 0.5, "float32")]
    )
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out), np.ones((1, 2, 2, 3)))
    model = ContextEncoderGenerator(residual=True, **TINY)
    out = keras.ops.convert_to_numpy(model(make_inputs(32), training=True))
    assert out.min() >= -1.0 and out.max() <= 1.0


def test_residual_adds_no_parameters():
    assert (
        ContextEncoderGenerator(residual=True, **TINY).count_params()
        == ContextEncoderGenerator(**TINY).count_params()
    )


@pytest.mark.large
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_size": 128, "encoder_filters": [64, 128, 256, 512]}, "needs 5 encoder filters"),
        ({"image_size": 64}, None),  # defaults adapt: 4 convs, no error
        ({"image_size": 96}, "4 \\* 2\\^n"),
        ({"image_size": 128, "decoder_filters": [512, 256]}, "needs 4 decoder filters"),
        (
            {"image_size": 128, "variant": "full", "decoder_filters": [512, 256, 128, 64]},
            "needs 5 decoder filters",
        ),
        ({"image_size": 64, "encoder": "alexnet"}, "image_size >= 67"),
        ({"encoder": "alexnet", "encoder_filters": [8, 8, 8]}, "needs 5"),
        ({"encoder": "vgg"}, "encoder"),
        ({"variant": "left"}, "variant"),
    ],
)
def test_invalid_configs(kwargs, message):
    if message is None:
        model = ContextEncoderGenerator(**kwargs)
        assert model.get_config()["encoder_filters"] == [64, 128, 256, 512]
        assert model.output_shape == (None, 32, 32, 3)
        return
    with pytest.raises(ValueError, match=message):
        ContextEncoderGenerator(**kwargs)


def test_generator_names_its_inputs():
    model = ContextEncoderGenerator(**TINY)
    assert [t.name for t in model.inputs] == ["masked_image", "mask"]
    image, mask = make_inputs(32)
    expected = keras.ops.convert_to_numpy(model([image, mask]))
    # Batches come as ((masked_image, mask), image): a tuple and a dict work too.
    for inputs in [(image, mask), {"masked_image": image, "mask": mask}]:
        np.testing.assert_allclose(keras.ops.convert_to_numpy(model(inputs)), expected, atol=1e-6)


def test_no_lambda_layers(presets):
    for model in presets.values():
        assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)


@pytest.mark.parametrize(
    "kwargs",
    [
        {**TINY, "residual": True, "fill_value": [0.1, 0.2, 0.3], "dropout": 0.5},
        {**TINY_ALEXNET, "variant": "full", "fill": "known_mean", "mask_channel": False},
    ],
)
def test_generator_config_and_keras_file(kwargs, tmp_path):
    model = ContextEncoderGenerator(**kwargs)
    assert_config_round_trip(model)
    assert_keras_file_round_trip(model, list(make_inputs(kwargs["image_size"])), tmp_path)


# --- DCGAN discriminator -----------------------------------------------------------------------


def dcgan_discriminator_counts(filters, in_ch=3):
    convs = [conv(4, cin, cout) for cin, cout in zip([in_ch] + filters[:-1], filters, strict=True)]
    convs.append(conv(4, filters[-1], 1))
    return count(convs, filters[1:])


def test_dcgan_discriminator_64():
    model = DCGANDiscriminator()
    assert model.get_config()["filters"] == [64, 128, 256, 512]
    assert model.output_shape == (None, 1)
    trainable, total = dcgan_discriminator_counts([64, 128, 256, 512])
    assert model.count_params() == total == 2_768_321
    assert trainable_count(model) == trainable == 2_766_529
    out = keras.ops.convert_to_numpy(model(np.zeros((3, 64, 64, 3), "float32")))
    assert out.shape == (3, 1) and ((out > 0) & (out < 1)).all()


def test_dcgan_discriminator_128_full_image():
    model = DCGANDiscriminator(image_size=128)
    # Pathak's train_random.lua discriminator at 128: one more 64-filter conv.
    assert model.get_config()["filters"] == [64, 64, 128, 256, 512]
    assert model.output_shape == (None, 1)
    trainable, total = dcgan_discriminator_counts([64, 64, 128, 256, 512])
    assert model.count_params() == total == 2_834_177


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_size": 48}, "4 \\* 2\\^n"),
        ({"image_size": 64, "filters": [64, 128, 256]}, "needs 4 filters"),
        ({"output_activation": "tanh"}, "output_activation"),
    ],
)
def test_dcgan_discriminator_invalid(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DCGANDiscriminator(**kwargs)


def test_dcgan_discriminator_raw_scores_config_and_keras_file(tmp_path):
    model = DCGANDiscriminator(image_size=16, filters=[8, 16], output_activation=None)
    image = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    assert model(image).shape == (2, 1)
    assert_config_round_trip(model)
    assert_keras_file_round_trip(model, image, tmp_path)
