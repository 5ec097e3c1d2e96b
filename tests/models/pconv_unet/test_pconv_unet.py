import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import random_batch

from keras_inpaint.data import masks
from keras_inpaint.models.pconv_unet import PConvUNet

# --- Parameter arithmetic, independent of the model code -------------------------------------


def pconv(k, cin, cout, bias):
    return k * k * cin * cout + (cout if bias else 0)


def unet_counts(enc, kernels, strides, first_bn, dec, dec_kernel, skip_style, in_ch=3):
    """(encoder, decoder) trainable counts and the non-trainable BN statistics."""
    encoder, stats = 0, 0
    channels = [in_ch] + list(enc)
    for i, (cin, cout, k) in enumerate(zip(channels[:-1], enc, kernels, strict=True)):
        bn = i > 0 or first_bn
        encoder += pconv(k, cin, cout, bias=not bn) + (2 * cout if bn else 0)
        stats += 2 * cout if bn else 0
    decoder = 0
    x = enc[-1]
    outs = list(dec) + [3]
    depth = len(enc)
    for j in range(depth, 0, -1):
        cin = x
        if strides[j - 1] > 1:
            cin += channels[j - 1] if skip_style == "resolution" else channels[j]
        cout = outs[depth - j]
        last = j == 1
        decoder += pconv(dec_kernel, cin, cout, bias=last) + (0 if last else 2 * cout)
        stats += 0 if last else 2 * cout
        x = cout
    return encoder, decoder, stats


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def pconv_inputs(model, name):
    layer = model.get_layer(name)
    return layer.input[0].shape[1:], layer.output[0].shape[1:]


TINY = {
    "preset": "cifar_net2",
    "encoder_filters": [4, 4, 8, 8, 8, 8, 8, 8],
    "decoder_filters": [8, 8, 8, 8, 8, 4, 4],
}


@pytest.fixture(scope="module")
def liu():
    return PConvUNet(preset="liu_512")


# --- Presets: parameter counts and layer tables -------------------------------------------------


def test_liu_512_param_counts(liu):
    encoder, decoder, stats = unet_counts(
        [64, 128, 256, 512, 512, 512, 512, 512],
        [7, 5, 5, 3, 3, 3, 3, 3],
        [2] * 8,
        False,
        [512, 512, 512, 512, 256, 128, 64],
        3,
        "resolution",
    )
    assert (encoder, decoder) == (11_656_192, 21_203_604)
    assert liu.submodule_params() == {"encoder": encoder, "decoder": decoder}
    assert trainable_count(liu) == encoder + decoder == 32_859_796
    assert liu.count_params() == encoder + decoder + stats == 32_870_676


def test_liu_512_layer_table(liu):
    # Liu et al.'s table: PConv1 7x7/2 -> 256x256x64 ... PConv8 -> 2x2x512; the decoder
    # concatenates features and masks of the same resolution, the last with the input image.
    assert liu.get_layer("encoder_block1_pconv").kernel.shape == (7, 7, 3, 64)
    assert pconv_inputs(liu, "encoder_block8_pconv")[1] == (2, 2, 512)
    assert pconv_inputs(liu, "decoder_block8_pconv") == ((4, 4, 1024), (4, 4, 512))
    assert pconv_inputs(liu, "decoder_block4_pconv") == ((64, 64, 768), (64, 64, 256))
    assert pconv_inputs(liu, "decoder_block1_pconv") == ((512, 512, 67), (512, 512, 3))
    assert liu.get_layer("decoder_block1_concat_mask").output.shape[-1] == 67
    assert isinstance(liu.get_layer("encoder_block1_relu"), keras.layers.ReLU)
    assert liu.get_layer("decoder_block2_lrelu").negative_slope == pytest.approx(0.2)
    names = {layer.name for layer in liu.layers}
    assert "encoder_block1_bn" not in names and "encoder_block2_bn" in names
    assert "decoder_block1_bn" not in names and "decoder_block1_lrelu" not in names
    assert liu.output.shape == (None, 512, 512, 3)


def test_cifar_net2_param_counts_and_table():
    model = PConvUNet(preset="cifar_net2")
    encoder, decoder, stats = unet_counts(
        [32, 32, 64, 64, 128, 128, 256, 256],
        [3] * 8,
        [1, 2] * 4,
        True,
        [256, 128, 128, 64, 64, 32, 32],
        3,
        "paired",
    )
    assert (encoder, decoder) == (1_173_216, 1_956_067)
    assert model.submodule_params() == {"encoder": encoder, "decoder": decoder}
    assert trainable_count(model) == 3_129_283
    assert model.count_params() == encoder + decoder + stats
    # Seed 001 table 2, decoder "in channel" column, modules 8 down to 1.
    expected_inputs = [256 + 256, 256, 128 + 128, 128, 64 + 64, 64, 32 + 32, 32]
    inputs = [pconv_inputs(model, f"decoder_block{j}_pconv")[0][-1] for j in range(8, 0, -1)]
    assert inputs == expected_inputs
    assert [pconv_inputs(model, f"encoder_block{i}_pconv")[1][0] for i in range(1, 9)] == [
        32,
        16,
        16,
        8,
        8,
        4,
        4,
        2,
    ]


def test_cifar_net1_param_counts_and_table():
    model = PConvUNet(preset="cifar_net1")
    encoder, decoder, stats = unet_counts(
        [64, 128, 256, 512], [3] * 4, [2] * 4, True, [512, 256, 128], 3, "paired"
    )
    assert (encoder, decoder) == (1_551_936, 6_937_411)
    assert model.submodule_params() == {"encoder": encoder, "decoder": decoder}
    assert trainable_count(model) == 8_489_347
    assert model.count_params() == encoder + decoder + stats
    # Seed 001 table 1: decoder modules 4..1 take 512+512, 512+256, 256+128, 128+64.
    inputs = [pconv_inputs(model, f"decoder_block{j}_pconv")[0] for j in range(4, 0, -1)]
    assert inputs == [(4, 4, 1024), (8, 8, 768), (16, 16, 384), (32, 32, 192)]


def test_skip_styles_give_the_same_count_for_network_2():
    paired = PConvUNet(**TINY)
    resolution = PConvUNet(**TINY, skip_style="resolution")
    assert trainable_count(paired) == trainable_count(resolution)
    # The styles differ in where the skip comes from: full resolution for "resolution".
    assert "decoder_block2_skip_up" in {layer.name for layer in paired.layers}
    concat = resolution.get_layer("decoder_block2_concat")
    assert concat.input[1].shape == (None, 32, 32, 4)


# --- Mask propagation ---------------------------------------------------------------------------


def final_mask(model, masked_image, mask):
    probe = keras.Model(model.inputs, model.get_layer("decoder_block1_pconv").output[1])
    return keras.ops.convert_to_numpy(probe([masked_image, mask]))


@pytest.mark.large
def test_liu_512_fills_a_half_hole(liu):
    # The full 512 network (a forward pass of 2 images takes a few seconds on a CPU).
    mask = np.zeros((2, 512, 512, 1), "float32")
    mask[0, :, :256] = 1.0  # the left half
    mask[1] = masks.irregular_strokes(1, 512, 512, tf.constant([0, 1]), hole_ratio=(0.5, 0.5))[0]
    assert np.all(mask.mean(axis=(1, 2, 3)) == 0.5)
    image = np.zeros((2, 512, 512, 3), "float32")
    np.testing.assert_array_equal(final_mask(liu, image, mask), 1.0)
    # One layer is not enough: the first PConv's mask still has holes.
    probe = keras.Model(liu.inputs, liu.get_layer("encoder_block1_pconv").output[1])
    assert keras.ops.convert_to_numpy(probe([image, mask])).min() == 0.0


def test_output_ignores_hole_values():
    model = PConvUNet(**TINY)
    (masked_image, mask), _ = random_batch(2, 32)
    noise = np.random.default_rng(0).normal(size=masked_image.shape).astype("float32")
    noisy = masked_image + mask * noise * 10
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model([noisy, mask], training=False)),
        keras.ops.convert_to_numpy(model([masked_image, mask], training=False)),
        atol=1e-5,
    )


@pytest.mark.large
def test_output_in_range_and_finite_with_an_all_hole_image():
    model = PConvUNet(**TINY)
    mask = np.ones((1, 32, 32, 1), "float32")
    out = keras.ops.convert_to_numpy(model([np.zeros((1, 32, 32, 3), "float32"), mask]))
    assert np.all(np.isfinite(out)) and np.abs(out).max() <= 1.0


@pytest.mark.large
def test_push_pull_residual_starts_at_the_push_pull_fill_and_learns_a_correction():
    from keras_inpaint.layers.push_pull import push_pull_fill

    generator = PConvUNet(**TINY, output_activation="linear", residual=True)
    assert trainable_count(generator) == trainable_count(PConvUNet(**TINY))
    (masked_image, mask), _ = random_batch(2, 32)
    output = keras.ops.convert_to_numpy(generator([masked_image, mask]))
    # Untrained, the last PConv is zero: the output is exactly the push-pull fill.
    np.testing.assert_allclose(output, push_pull_fill(masked_image, mask).numpy(), atol=1e-6)
    kernel = generator.get_layer("decoder_block1_pconv").kernel
    kernel.assign(np.full(kernel.shape, 0.05, "float32"))
    moved = keras.ops.convert_to_numpy(generator([masked_image, mask]))
    assert not np.allclose(moved, output)
    assert np.abs(moved).max() <= 1.0
    assert PConvUNet.from_config(generator.get_config()).residual


# --- Frozen encoder BatchNormalization ----------------------------------------------------------


def test_freeze_encoder_batch_norm():
    model = PConvUNet(**TINY, freeze_encoder_batch_norm=True)
    encoder_bn = model.encoder_batch_norm_layers()
    assert len(encoder_bn) == 8 and all(not layer.trainable for layer in encoder_bn)
    decoder_bn = [
        layer
        for layer in model.layers
        if layer.name.startswith("decoder_") and layer.name.endswith("_bn")
    ]
    assert decoder_bn and all(layer.trainable for layer in decoder_bn)
    assert model.submodule_params()["encoder"] == sum(
        int(np.prod(model.get_layer(f"encoder_block{i}_pconv").kernel.shape)) for i in range(1, 9)
    )
    (masked_image, mask), _ = random_batch(4, 32)
    encoder_stats = [np.array(layer.moving_mean) for layer in encoder_bn]
    decoder_stats = [np.array(layer.moving_mean) for layer in decoder_bn]
    # Training mode: a frozen BN layer still normalises with (and keeps) its moving statistics.
    model([masked_image, mask], training=True)
    for before, layer in zip(encoder_stats, encoder_bn, strict=True):
        np.testing.assert_array_equal(np.array(layer.moving_mean), before)
    assert any(
        not np.array_equal(before, np.array(layer.moving_mean))
        for before, layer in zip(decoder_stats, decoder_bn, strict=True)
    )
    assert model.get_config()["freeze_encoder_batch_norm"] is True
    model.set_encoder_batch_norm_frozen(False)
    assert all(layer.trainable for layer in encoder_bn)


# --- Config, saving, errors ---------------------------------------------------------------------


@pytest.mark.large
def test_config_round_trip_and_keras_file(tmp_path):
    model = PConvUNet(**TINY, skip_style="resolution", output_activation="linear")
    config = model.get_config()
    clone = PConvUNet.from_config(config)
    assert clone.get_config() == config
    assert config["encoder_strides"] == [1, 2, 1, 2, 1, 2, 1, 2]
    inputs = list(random_batch(2, 32)[0])
    path = tmp_path / "pconv_unet.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert type(restored) is PConvUNet and restored.get_config() == config
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored(inputs, training=False)),
        keras.ops.convert_to_numpy(model(inputs, training=False)),
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"preset": "liu_256"}, "preset"),
        ({"image_size": 24}, "multiple of 16"),
        ({"encoder_strides": [2, 2]}, "encoder_strides"),
        ({"decoder_filters": [8, 8]}, "decoder_filters"),
        ({"skip_style": "dense"}, "skip_style"),
        ({"output_activation": "sigmoid"}, "output_activation"),
    ],
)
def test_rejects_bad_arguments(overrides, message):
    with pytest.raises(ValueError, match=message):
        PConvUNet(**{**TINY, **overrides})
