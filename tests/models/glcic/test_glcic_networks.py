"""GLCIC networks: shapes, parameter counts from the layer arithmetic, the hole-centred crop."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import assert_config_round_trip, assert_keras_round_trip

from keras_inpaint.data import masks
from keras_inpaint.models.glcic import GLCICDiscriminator, GLCICGenerator, HoleCenteredCrop
from keras_inpaint.models.glcic.hole_centered_crop import hole_centered_offsets

# --- Parameter arithmetic, independent of the model code -------------------------------------


def conv(k, cin, cout):
    """Conv2D / Conv2DTranspose with bias."""
    return k * k * cin * cout + cout


def bn(c):
    """Trainable gamma + beta (the moving mean and variance are not trainable)."""
    return 2 * c


def generator_counts(b):
    """Iizuka et al.'s table 1 with first width `b` (paper 64) on RGB + mask input."""
    encoder = conv(5, 4, b) + conv(3, b, 2 * b) + conv(3, 2 * b, 2 * b) + conv(3, 2 * b, 4 * b)
    encoder += 2 * conv(3, 4 * b, 4 * b) + bn(b) + 2 * bn(2 * b) + 3 * bn(4 * b)
    dilated = 4 * (conv(3, 4 * b, 4 * b) + bn(4 * b))
    decoder = 2 * (conv(3, 4 * b, 4 * b) + bn(4 * b))
    decoder += conv(4, 4 * b, 2 * b) + bn(2 * b) + conv(3, 2 * b, 2 * b) + bn(2 * b)
    decoder += conv(4, 2 * b, b) + bn(b) + conv(3, b, b // 2) + bn(b // 2) + conv(3, b // 2, 3)
    return {"encoder": encoder, "dilated": dilated, "decoder": decoder}


def branch_count(size, filters, fc_units=1024):
    """5x5 stride-2 "same" convs with BN, flatten, FC."""
    total, channels = 0, 3
    for width in filters:
        total += conv(5, channels, width) + bn(width)
        channels, size = width, math.ceil(size / 2)
    return total + size * size * channels * fc_units + fc_units


def discriminator_counts(image_size, local_size):
    return {
        "global": branch_count(image_size, [64, 128, 256, 512, 512, 512]),
        "local": branch_count(local_size, [64, 128, 256, 512, 512]),
        "head": 2 * 1024 + 1,
    }


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# --- Full-size networks: shapes and parameter counts ------------------------------------------


@pytest.fixture(scope="module")
def paper_networks():
    return {
        "generator": GLCICGenerator(image_size=256),
        "discriminator_256": GLCICDiscriminator(image_size=256, local_size=128),
        "discriminator_160": GLCICDiscriminator(image_size=160, local_size=80),
    }


def test_generator_param_counts(paper_networks):
    generator = paper_networks["generator"]
    parts = generator_counts(64)
    assert parts == {"encoder": 1_705_408, "dilated": 2_362_368, "decoder": 2_004_355}
    assert generator.submodule_params() == parts
    assert trainable_count(generator) == sum(parts.values()) == 6_072_131
    # Plus the BatchNorm moving statistics of 2,976 channels.
    assert generator.count_params() == 6_072_131 + 2 * 2_976 == 6_078_083
    # Fully convolutional: seed 003's 160 px network has the same weights.
    assert trainable_count(GLCICGenerator(image_size=160)) == 6_072_131


def test_generator_shapes(paper_networks):
    generator = paper_networks["generator"]
    assert generator.output_shape == (None, 256, 256, 3)
    assert generator.get_layer("encoder_block6_relu").output.shape == (None, 64, 64, 256)
    for i, rate in enumerate([2, 4, 8, 16]):
        layer = generator.get_layer(f"dilated_block{i + 1}_conv")
        assert layer.dilation_rate == (rate, rate)
        assert layer.output.shape == (None, 64, 64, 256)
    assert generator.get_layer("decoder_up1_deconv").output.shape == (None, 128, 128, 128)
    assert generator.get_layer("decoder_up2_block_relu").output.shape == (None, 256, 256, 32)


@pytest.mark.parametrize(
    "size, local, parts, flat",
    [
        (256, 128, {"global": 25_808_384, "local": 19_253_248, "head": 2_049}, 4),
        (160, 80, {"global": 22_138_368, "local": 15_583_232, "head": 2_049}, 3),
    ],
)
def test_discriminator_param_counts_and_shapes(paper_networks, size, local, parts, flat):
    discriminator = paper_networks[f"discriminator_{size}"]
    assert discriminator_counts(size, local) == parts
    assert discriminator.submodule_params() == parts
    assert trainable_count(discriminator) == sum(parts.values())
    assert discriminator.get_layer("global_block6_relu").output.shape == (None, flat, flat, 512)
    assert discriminator.get_layer("local_crop").output.shape == (None, local, local, 3)
    assert discriminator.get_layer("local_block5_relu").output.shape == (None, flat, flat, 512)
    assert discriminator.get_layer("global_fc_relu").output.shape == (None, 1024)
    assert discriminator.get_layer("local_fc_relu").output.shape == (None, 1024)
    assert discriminator.get_layer("head_concat").output.shape == (None, 2048)
    assert discriminator.output_shape == (None, 1)


def test_paper_totals(paper_networks):
    assert trainable_count(paper_networks["discriminator_256"]) == 45_063_681
    assert trainable_count(paper_networks["discriminator_160"]) == 37_723_649


# --- Tiny networks: behaviour ------------------------------------------------------------------

TINY_G = {"image_size": 32, "base_filters": 8, "dilation_rates": [1, 2, 4, 8]}
TINY_D = {
    "image_size": 32,
    "local_size": 16,
    "global_filters": [8, 16, 16],
    "local_filters": [8, 16],
    "fc_units": 32,
}


def inputs(size=32, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32")
    mask = masks.random_boxes(batch, size, size, (seed, 7), box_size=(4, 12)).numpy()
    return image * (1 - mask), mask


def test_generator_keeps_known_pixels_and_fills_the_hole_with_the_mean_pixel():
    fill = [0.25, -0.5, 0.75]
    generator = GLCICGenerator(**TINY_G, fill_value=fill)
    masked_image, mask = inputs()
    output = keras.ops.convert_to_numpy(generator([masked_image, mask]))
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(output[known], masked_image[known])
    assert np.abs(output).max() <= 1.0
    filled = keras.Model(generator.inputs, generator.get_layer("hole_fill").output)
    filled = keras.ops.convert_to_numpy(filled([masked_image, mask]))
    np.testing.assert_allclose(filled[~known], np.tile(fill, ((~known).sum(), 1)))
    np.testing.assert_array_equal(filled[known], masked_image[known])


def test_push_pull_residual_generator_starts_at_the_push_pull_fill_and_learns_a_correction():
    from keras_inpaint.layers.push_pull import push_pull_fill

    generator = GLCICGenerator(**TINY_G, fill="push_pull", residual=True)
    assert trainable_count(generator) == trainable_count(GLCICGenerator(**TINY_G))
    masked_image, mask = inputs()
    output = keras.ops.convert_to_numpy(generator([masked_image, mask]))
    # Untrained, the output conv is zero: the output is exactly the pre-fill.
    np.testing.assert_allclose(output, push_pull_fill(masked_image, mask).numpy(), atol=1e-6)
    kernel = generator.get_layer("decoder_output_conv").kernel
    kernel.assign(np.full(kernel.shape, 0.05, "float32"))
    moved = keras.ops.convert_to_numpy(generator([masked_image, mask]))
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(moved[known], masked_image[known])
    assert not np.allclose(moved[~known], output[~known])
    assert np.abs(moved).max() <= 1.0
    with pytest.raises(ValueError, match="`fill` must be one of"):
        GLCICGenerator(**TINY_G, fill="known_mean")


def test_skip_connections_add_encoder_features_without_weights():
    plain = GLCICGenerator(**TINY_G)
    skipped = GLCICGenerator(**TINY_G, skip_connections=True)
    assert trainable_count(plain) == trainable_count(skipped)
    # conv3 (1/2 size, 2b filters) joins the first deconv, conv1 (full size, b) the second.
    assert skipped.get_layer("decoder_skip1").output.shape == (None, 16, 16, 16)
    assert skipped.get_layer("decoder_skip2").output.shape == (None, 32, 32, 8)
    for skip, source in (
        ("decoder_skip1", "encoder_block3_relu"),
        ("decoder_skip2", "encoder_block1_relu"),
    ):
        source_output = skipped.get_layer(source).output
        assert any(tensor is source_output for tensor in skipped.get_layer(skip).input)
    skipped.set_weights(plain.get_weights())
    masked_image, mask = inputs()
    assert not np.allclose(
        keras.ops.convert_to_numpy(plain([masked_image, mask])),
        keras.ops.convert_to_numpy(skipped([masked_image, mask])),
    )


@pytest.mark.large
def test_generator_of_any_size_has_the_same_weights():
    dynamic = GLCICGenerator(**{**TINY_G, "image_size": None})
    fixed = GLCICGenerator(**TINY_G)
    assert dynamic.input_shape[0] == (None, None, None, 3) and dynamic.size_multiple == 4
    fixed.set_weights(dynamic.get_weights())
    masked_image, mask = inputs()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(dynamic([masked_image, mask])),
        keras.ops.convert_to_numpy(fixed([masked_image, mask])),
        atol=1e-6,
    )
    other = dynamic([np.zeros((1, 48, 40, 3), "float32"), np.ones((1, 48, 40, 1), "float32")])
    assert tuple(other.shape) == (1, 48, 40, 3)


@pytest.mark.large
@pytest.mark.parametrize(
    "network",
    [
        lambda: GLCICGenerator(**TINY_G, fill_value=[0.1, 0.2, 0.3], skip_connections=True),
        lambda: GLCICGenerator(**TINY_G, fill="push_pull", residual=True),
        lambda: GLCICDiscriminator(**TINY_D),
    ],
)
def test_config_and_keras_file_round_trips(network, tmp_path):
    model = network()
    assert_config_round_trip(model)
    assert type(model).from_config(model.get_config()).get_config() == model.get_config()
    masked_image, mask = inputs()
    assert_keras_round_trip(model, [masked_image, mask], tmp_path)


def test_discriminator_outputs_probabilities_or_raw_scores():
    masked_image, mask = inputs()
    scores = keras.ops.convert_to_numpy(GLCICDiscriminator(**TINY_D)([masked_image, mask]))
    assert scores.shape == (3, 1) and np.all((scores > 0) & (scores < 1))
    raw = GLCICDiscriminator(**TINY_D, output_activation=None)
    assert raw.layers[-1].name == "head_fc"


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: GLCICGenerator(image_size=30), "multiple of 4"),
        (lambda: GLCICGenerator(image_size=32, dilation_rates=[2, 4]), "4 rates"),
        (lambda: GLCICGenerator(image_size=32, base_filters=7), "even"),
        (lambda: GLCICDiscriminator(image_size=32, local_size=64), "local_size"),
        (lambda: GLCICDiscriminator(**{**TINY_D, "output_activation": "tanh"}), "output_act"),
    ],
)
def test_invalid_arguments_are_explained(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# --- The local crop -----------------------------------------------------------------------------


def coordinate_image(batch, size, mask):
    """Channels: row index, column index, and the mask, so a crop shows where it came from."""
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    coords = np.stack([rows, cols], axis=-1).astype("float32")
    return np.concatenate([np.broadcast_to(coords, (batch, size, size, 2)), mask], axis=-1)


def test_crop_contains_the_whole_hole_of_every_sample():
    size, local, batch = 64, 32, 256
    mask = masks.random_boxes(batch, size, size, (3, 4), num_boxes=(1, 2), box_size=(2, 32))
    mask = mask.numpy()
    image = coordinate_image(batch, size, mask)
    patch = keras.ops.convert_to_numpy(HoleCenteredCrop(local)([image, mask]))
    top, left = (keras.ops.convert_to_numpy(t) for t in hole_centered_offsets(mask, local))
    fits = checked = 0
    for b in range(batch):
        ys, xs = np.nonzero(mask[b, ..., 0])
        # Exact pixels: the patch is the window at (top, left), not a resampling.
        np.testing.assert_array_equal(
            patch[b], image[b, top[b] : top[b] + local, left[b] : left[b] + local]
        )
        if ys.max() - ys.min() < local and xs.max() - xs.min() < local:
            fits += 1
            assert patch[b, ..., 2].sum() == mask[b].sum(), f"sample {b} lost hole pixels"
            # Centred on the bounding box unless clamped at the border.
            centre_y = (ys.min() + ys.max() + 1) / 2
            if 0 < top[b] < size - local:
                assert abs(top[b] + local / 2 - centre_y) <= 0.5
                checked += 1
    assert fits > batch // 2 and checked > 0


def test_crop_of_a_hole_larger_than_the_patch_and_of_no_hole():
    mask = np.zeros((2, 32, 32, 1), "float32")
    mask[0, 2:30, 4:28] = 1.0  # 28 x 24, larger than the 16 patch: the patch lies inside it
    image = coordinate_image(2, 32, mask)
    patch = keras.ops.convert_to_numpy(HoleCenteredCrop(16)([image, mask]))
    assert np.all(patch[0, ..., 2] == 1.0)
    np.testing.assert_array_equal(patch[0, :, 0, 0], np.arange(8, 24))
    np.testing.assert_array_equal(patch[1, 0, :, 1], np.arange(8, 24))  # no hole: the centre


def test_crop_passes_gradients_to_the_window_pixels():
    mask = np.zeros((1, 16, 16, 1), "float32")
    mask[0, 0:3, 12:16] = 1.0
    image = tf.zeros((1, 16, 16, 3))
    with tf.GradientTape() as tape:
        tape.watch(image)
        total = tf.reduce_sum(HoleCenteredCrop(8)([image, mask]))
    gradient = tape.gradient(total, image).numpy()[0, ..., 0]
    expected = np.zeros((16, 16))
    expected[0:8, 8:16] = 1.0
    np.testing.assert_array_equal(gradient, expected)


def test_discriminator_local_branch_sees_the_hole_centred_patch():
    discriminator = GLCICDiscriminator(**TINY_D)
    mask = np.zeros((1, 32, 32, 1), "float32")
    mask[0, 20:28, 2:6] = 1.0
    image = coordinate_image(1, 32, mask)
    local = keras.Model(discriminator.inputs, discriminator.get_layer("local_crop").output)
    patch = keras.ops.convert_to_numpy(local([image, mask]))
    np.testing.assert_array_equal(patch[0, :, 0, 0], np.arange(16, 32))
    np.testing.assert_array_equal(patch[0, 0, :, 1], np.arange(0, 16))
