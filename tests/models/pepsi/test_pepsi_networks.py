import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import assert_config_round_trip, assert_keras_round_trip, random_batch

from keras_inpaint.models.pepsi import CellWiseDense, PEPSIGenerator, REDDiscriminator
from keras_inpaint.training.recipes import build_networks, load_recipe
from keras_inpaint.zoo import describe_network

# --- Seed 000's published counts, and the layer arithmetic that gives them --------------------

SEED_STANDARD = {"encoder": 2_937_184, "cam": 131_328, "decoder": 588_435, "red": 7_592_080}
SEED_DEPTHWISE = {"encoder": 342_076, "cam": 131_328, "decoder": 73_171, "red": 338_014}


def conv(k, cin, cout):
    return k * k * cin * cout + cout


def separable(k, cin, cout):
    """DepthwiseConv2D with bias + 1x1 Conv2D with bias."""
    return k * k * cin + cin + cin * cout + cout


def pepsi_counts(in_ch, layer, w=32, cells=16):
    encoder = [(5, in_ch, w), (3, w, 2 * w), (3, 2 * w, 2 * w), (3, 2 * w, 4 * w)]
    encoder += [(3, 4 * w, 4 * w), (3, 4 * w, 8 * w)] + [(3, 8 * w, 8 * w)] * 4
    widths = [8 * w, 4 * w, 4 * w, 2 * w, 2 * w, w, w, w // 2, w // 2, 3]
    decoder = [(3, cin, cout) for cin, cout in zip(widths[:-1], widths[1:], strict=True)]
    red = [3, 64, 128, 256, 256, 256, 512]
    red_convs = [(5, cin, cout) for cin, cout in zip(red[:-1], red[1:], strict=True)]
    return {
        "encoder": sum(layer(*spec) for spec in encoder),
        "cam": conv(1, 16 * w, 8 * w),
        "decoder": sum(layer(*spec) for spec in decoder),
        "red": sum(layer(*spec) for spec in red_convs) + cells * (512 + 1),
    }


def test_layer_arithmetic_gives_the_seed_table():
    assert pepsi_counts(6, conv) == SEED_STANDARD
    assert pepsi_counts(6, separable) == SEED_DEPTHWISE
    assert sum(SEED_STANDARD.values()) == 11_249_027
    assert sum(SEED_DEPTHWISE.values()) == 884_589


@pytest.mark.large
@pytest.mark.parametrize(
    "recipe, expected",
    [
        ("pepsi/seed_celeba_hq_256", SEED_STANDARD),
        ("pepsi/seed_depthwise_celeba_hq_256", SEED_DEPTHWISE),
    ],
)
def test_seed_recipes_have_the_seed_counts(recipe, expected):
    generator, discriminator = build_networks(load_recipe(recipe))
    described = describe_network(generator)
    assert described["submodules"] == {k: expected[k] for k in ("encoder", "cam", "decoder")}
    assert (
        described["trainable_params"] == expected["encoder"] + expected["cam"] + expected["decoder"]
    )
    assert describe_network(discriminator)["trainable_params"] == expected["red"]
    total = described["trainable_params"] + describe_network(discriminator)["trainable_params"]
    assert total == sum(expected.values())
    # Spectral normalization's `u` vectors (one per conv, its output channels) are not trainable.
    sn_vectors = 1472 + (6 if "depthwise" in recipe else 0)
    assert discriminator.count_params() == expected["red"] + sn_vectors
    keras.backend.clear_session()


@pytest.mark.large
def test_diet_pepsi_shares_the_dilated_kernel():
    generator, _ = build_networks(load_recipe("pepsi/diet_celeba_hq_256"))
    standard = PEPSIGenerator(image_size=256, mask_channels=1)
    counts = generator.submodule_params()
    # Four 3x3x256x256 convs with biases become one kernel + 4 scales + 4 shifts of 256.
    saved = 4 * conv(3, 256, 256) - (3 * 3 * 256 * 256 + 2 * 4 * 256)
    assert counts["encoder"] == standard.submodule_params()["encoder"] - saved
    assert counts["encoder"] == 1_167_136
    assert describe_network(generator)["trainable_params"] == 1_886_899
    assert describe_network(standard)["trainable_params"] == 3_655_347
    keras.backend.clear_session()


def test_diet_pepsi_reduction_is_three_quarters_of_the_dilated_share():
    # Seed 000's configuration (6-channel input); models/pepsi/README.md explains why this is
    # 48.4 % and not ZOO_SPEC's "about 30 %".
    pepsi = describe_network(PEPSIGenerator(image_size=256, mask_channels=3))
    diet = describe_network(PEPSIGenerator(image_size=256, mask_channels=3, rate_adaptive=True))
    pepsi_params, diet_params = pepsi["trainable_params"], diet["trainable_params"]
    assert (pepsi_params, diet_params) == (3_656_947, 1_888_499)
    dilated = 4 * conv(3, 256, 256)
    assert diet_params == pepsi_params - dilated + 3 * 3 * 256 * 256 + 2 * 4 * 256
    # The dilated convs: 64.5 % of PEPSI's generator, 66.9 % without the CAM's 1x1 conv.
    assert round(100 * dilated / pepsi_params, 1) == 64.5
    assert round(100 * dilated / (pepsi_params - pepsi["submodules"]["cam"]), 1) == 66.9
    # One kernel for four rates drops three quarters of them.
    reduction = 100 * (1 - diet_params / pepsi_params)
    assert round(reduction, 1) == round(75 * dilated / pepsi_params, 1) == 48.4
    keras.backend.clear_session()


# --- Tiny networks for behaviour --------------------------------------------------------------

VARIANTS = {
    "pepsi": {},
    "diet": {"rate_adaptive": True},
    "separable": {"separable": True},
    "push_pull_residual": {"rate_adaptive": True, "fill": "push_pull", "residual": True},
}


def tiny_generator(**kwargs):
    return PEPSIGenerator(image_size=32, filters=4, dilation_rates=[1, 2, 2, 4], **kwargs)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_tiny_forward_shapes_and_range(variant):
    generator = tiny_generator(**VARIANTS[variant])
    (masked_image, mask), _ = random_batch(2, 32)
    inpainted = keras.ops.convert_to_numpy(generator([masked_image, mask]))
    coarse, inpainted_two_path = generator.training_model([masked_image, mask])
    assert inpainted.shape == (2, 32, 32, 3) and coarse.shape == (2, 32, 32, 3)
    assert inpainted.min() >= -1.0 and inpainted.max() <= 1.0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(inpainted_two_path), inpainted, atol=1e-6)


def test_decoder_variables_are_shared_by_both_paths():
    generator = tiny_generator()
    decoder_ids = {id(v) for v in generator.decoder.trainable_variables}
    generator_ids = [id(v) for v in generator.trainable_variables]
    training_ids = [id(v) for v in generator.training_model.trainable_variables]
    # One set of variables: the two-path view adds none and counts the decoder once.
    assert sorted(training_ids) == sorted(generator_ids)
    assert len(set(generator_ids)) == len(generator_ids)
    assert decoder_ids <= set(generator_ids)
    assert generator.training_model.count_params() == generator.count_params()
    # Changing the one decoder changes both paths' outputs.
    (masked_image, mask), _ = random_batch(1, 32)
    before = [keras.ops.convert_to_numpy(t) for t in generator.training_model([masked_image, mask])]
    bias = generator.decoder.get_layer("decoder_output_conv").bias
    bias.assign(bias + 0.25)
    after = [keras.ops.convert_to_numpy(t) for t in generator.training_model([masked_image, mask])]
    for old, new in zip(before, after, strict=True):
        assert not np.allclose(old, new)


def count_convolutions(function, *args):
    graph = tf.function(function).get_concrete_function(*args).graph
    return sum(op.type in ("Conv2D", "DepthwiseConv2dNative") for op in graph.get_operations())


@pytest.mark.large
def test_inference_runs_only_encoder_cam_decoder():
    generator = tiny_generator()
    spec = [tf.TensorSpec((1, 32, 32, 3)), tf.TensorSpec((1, 32, 32, 1))]
    inference = count_convolutions(lambda x, m: generator([x, m], training=False), *spec)
    training = count_convolutions(
        lambda x, m: generator.training_model([x, m], training=True), *spec
    )
    # The decoder has 9 convs: the training graph runs it twice (coarse and inpainting
    # paths), the inference graph once.
    assert training - inference == 9


def test_hole_content_is_ignored():
    generator = tiny_generator()
    (masked_image, mask), image = random_batch(2, 32)
    unmasked = keras.ops.convert_to_numpy(generator([image, mask]))
    masked = keras.ops.convert_to_numpy(generator([masked_image, mask]))
    np.testing.assert_allclose(unmasked, masked, atol=1e-6)


@pytest.mark.parametrize("separable", [False, True])
def test_push_pull_residual_starts_at_the_push_pull_fill_on_both_paths(separable):
    from keras_inpaint.layers.push_pull import push_pull_fill

    generator = tiny_generator(fill="push_pull", residual=True, separable=separable)
    assert generator.count_params() == tiny_generator(separable=separable).count_params()
    (masked_image, mask), _ = random_batch(2, 32)
    expected = push_pull_fill(masked_image, mask).numpy()
    coarse, inpainted = generator.training_model([masked_image, mask])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(coarse), expected, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(inpainted), expected, atol=1e-6)
    bias = generator.decoder.get_layer(
        "decoder_output_pw" if separable else "decoder_output_conv"
    ).bias
    bias.assign(bias + 0.25)
    moved = keras.ops.convert_to_numpy(generator([masked_image, mask]))
    assert np.allclose(moved, np.clip(expected + 0.25, -1, 1), atol=1e-6)


def test_seed_mask_channels_feed_six_channels():
    generator = PEPSIGenerator(image_size=32, filters=4, mask_channels=3)
    assert generator.encoder.input_shape == (None, 32, 32, 6)
    assert tiny_generator().encoder.input_shape == (None, 32, 32, 4)


@pytest.mark.large
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_generator_config_and_keras_file(variant, tmp_path):
    generator = tiny_generator(**VARIANTS[variant])
    assert_config_round_trip(generator)
    (masked_image, mask), _ = random_batch(2, 32)
    restored = assert_keras_round_trip(generator, [masked_image, mask], tmp_path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored.training_model([masked_image, mask])[0]),
        keras.ops.convert_to_numpy(generator.training_model([masked_image, mask])[0]),
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_size": 36}, "multiple of 8"),
        ({"filters": 5}, "even"),
        ({"mask_channels": 2}, "mask_channels"),
        ({"rate_adaptive": True, "separable": True}, "pick one"),
        ({"fill": "mean"}, "`fill` must be one of"),
    ],
)
def test_invalid_generator_configs(kwargs, message):
    config = {"image_size": 32, "filters": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        PEPSIGenerator(**config)


# --- RED ---------------------------------------------------------------------------------------


def test_red_cells_have_separate_classifiers():
    discriminator = REDDiscriminator(image_size=64, filters=[4, 8, 8, 8])
    assert discriminator.output_shape == (None, 4, 4, 1)
    head = discriminator.get_layer("cell_dense")
    assert tuple(head.kernel.shape) == (4, 4, 8, 1)
    features = np.random.default_rng(0).normal(size=(2, 4, 4, 8)).astype("float32")
    kernel = head.kernel.numpy()
    expected = np.einsum("bhwc,hwcu->bhwu", features, kernel) + head.bias.numpy()
    before = keras.ops.convert_to_numpy(head(features))
    np.testing.assert_allclose(before, expected, atol=1e-5)
    # Changing one cell's classifier changes only that cell's score.
    delta = np.zeros_like(kernel)
    delta[0, 0] = 1.0
    head.kernel.assign(kernel + delta)
    changed = ~np.isclose(keras.ops.convert_to_numpy(head(features)), before, atol=1e-6)
    assert changed[:, 0, 0].all() and changed.sum() == 2


def test_cell_wise_dense_initial_scale_is_per_cell_glorot():
    layer = CellWiseDense()
    layer.build((None, 4, 4, 512))
    limit = np.sqrt(6.0 / (512 + 1))
    kernel = layer.kernel.numpy()
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit


def test_red_spectral_normalization_bounds_each_conv():
    discriminator = REDDiscriminator(image_size=32, filters=[8, 8])
    discriminator(np.zeros((1, 32, 32, 3), "float32"), training=True)
    for _ in range(30):  # power iterations converge over calls
        discriminator(np.zeros((1, 32, 32, 3), "float32"), training=True)
    for layer in discriminator.layers:
        if isinstance(layer, keras.layers.SpectralNormalization):
            kernel = layer.layer.kernel.numpy().reshape(-1, layer.layer.kernel.shape[-1])
            assert np.linalg.norm(kernel, 2) == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("separable", [False, True])
def test_red_config_and_keras_file(separable, tmp_path):
    discriminator = REDDiscriminator(image_size=32, filters=[4, 8, 8], separable=separable)
    assert_config_round_trip(discriminator)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    assert_keras_round_trip(discriminator, images, tmp_path)


def test_red_without_spectral_norm_has_no_wrappers():
    discriminator = REDDiscriminator(image_size=32, filters=[4, 8], spectral_norm=False)
    assert not any(isinstance(x, keras.layers.SpectralNormalization) for x in discriminator.layers)
    assert discriminator.count_params() == sum(
        int(np.prod(v.shape)) for v in discriminator.trainable_variables
    )
