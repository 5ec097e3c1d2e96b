"""The Context Encoder recipes carry the paper's and the seeds' numbers.

Pathak et al., "Context Encoders: Feature Learning by Inpainting", CVPR 2016,
https://arxiv.org/abs/1604.07379. Section 3.1: AlexNet's pool5 on a 227x227
input is 6x6x256, and the channel-wise fully connected layer has `m * n^4`
parameters "ignoring the bias term": 256 * 6^4 = 331,776 weights.
"""

import numpy as np
import pytest

from keras_inpaint.data import load_data_spec
from keras_inpaint.models.context_encoder import ContextEncoderInpainter
from keras_inpaint.training.recipes import build_inpainter, build_networks, load_recipe

PAPER_POOL5 = (6, 6, 256)
PAPER_CHANNEL_WISE_WEIGHTS = 331_776  # m * n^4, the paper's count (no biases)


@pytest.fixture(scope="module")
def alexnet_227():
    generator, discriminator = build_networks(load_recipe("context_encoder/alexnet_region_227"))
    assert discriminator is None
    return generator


def test_the_227_recipe_builds_to_the_papers_6x6x256_pool5(alexnet_227):
    assert alexnet_227.input_shape == [(None, 227, 227, 3), (None, 227, 227, 1)]
    assert alexnet_227.get_layer("encoder_pool5").output.shape[1:] == PAPER_POOL5
    assert alexnet_227.output_shape == (None, 227, 227, 3)


def test_the_227_channel_wise_layer_has_the_papers_331776_weights(alexnet_227):
    layer = alexnet_227.get_layer("bottleneck_cwfc")
    channels, side = PAPER_POOL5[2], PAPER_POOL5[0]
    assert channels * side**4 == PAPER_CHANNEL_WISE_WEIGHTS
    assert int(np.prod(layer.kernel.shape)) == PAPER_CHANNEL_WISE_WEIGHTS
    # The biases, one per output unit (m * n^2), come on top of the paper's count.
    assert int(np.prod(layer.bias.shape)) == channels * side**2 == 9_216
    assert layer.count_params() == 340_992


def test_the_128_recipe_keeps_the_2x2_pool5_and_its_small_channel_wise_layer():
    generator, _ = build_networks(load_recipe("context_encoder/alexnet_region_128"))
    assert generator.get_layer("encoder_pool5").output.shape[1:] == (2, 2, 256)
    layer = generator.get_layer("bottleneck_cwfc")
    assert int(np.prod(layer.kernel.shape)) == 256 * 2**4
    assert layer.count_params() == 5_120


def test_the_227_recipe_is_the_128_recipe_at_the_papers_size():
    small = load_recipe("context_encoder/alexnet_region_128")
    paper = load_recipe("context_encoder/alexnet_region_227")
    for key in ("inpainter", "discriminator", "optimizers", "training"):
        assert paper[key] == small[key], key
    assert paper["generator"]["config"] == dict(small["generator"]["config"], image_size=227)
    spec = load_data_spec(paper["data"])
    assert spec["image_size"] == 227
    assert spec["masks"] == load_data_spec(small["data"])["masks"]


@pytest.mark.large
def test_imagenet_64_carries_seed_004s_learning_rates_and_betas():
    model = build_inpainter(load_recipe("context_encoder/imagenet_64"))
    for optimizer, learning_rate in ((model.g_optimizer, 0.02), (model.d_optimizer, 0.002)):
        assert float(optimizer.learning_rate) == pytest.approx(learning_rate)
        assert (optimizer.beta_1, optimizer.beta_2) == (0.5, 0.9)


@pytest.mark.large
def test_imagenet_64_weighs_the_holes_7px_inner_border_10x():
    # Seed 004: "a 7px wide area on the borders of the dropout region", weighted 10x;
    # the 32x32 centre hole is the whole predicted region, so the band lies inside it.
    recipe = load_recipe("context_encoder/imagenet_64")
    masks = load_data_spec(recipe["data"])["masks"]
    assert masks == {"kind": "center_box", "box_height": 0.5, "box_width": 0.5}
    model = build_inpainter(recipe, compile=False)
    assert (model.overlap_width, model.overlap_weight, model.overlap_side) == (7, 10.0, "inside")
    size = recipe["image_size"]
    mask = np.zeros((2, size, size, 1), "float32")
    mask[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1.0
    image = np.zeros((2, size, size, 3), "float32")
    border = np.ones((2, size // 2, size // 2, 3), "float32")
    border[:, 7:-7, 7:-7] = 0.0  # an error of 1 on the 7-px border only
    inner = 1.0 - border  # an error of 1 inside it only
    band_pixels, inner_pixels = 32 * 32 - 18 * 18, 18 * 18
    for error, expected in ((border, 10.0 * band_pixels), (inner, 1.0 * inner_pixels)):
        loss = float(model.reconstruction_loss(image, error, mask))
        assert loss == pytest.approx(expected / (32 * 32))
    # The outer band of the other recipes would be empty here: no known pixel is predicted.
    outside = ContextEncoderInpainter(model.generator, overlap_width=7)
    assert float(outside.reconstruction_loss(image, border, mask)) == pytest.approx(
        band_pixels / (32 * 32)
    )


def test_the_photos_recipe_reads_monet2photos_photographs_and_can_fall_back_to_builtin():
    recipe = load_recipe("patch_gan/photos_alexnet_128")
    spec = load_data_spec(recipe["data"])
    assert spec["source"] == {
        "type": "tfds",
        "name": "cycle_gan/monet2photo",
        "split": "trainB",
        "heldout_split": "testB",
    }
    # Offline, `--data builtin_128_region` trains the same model on the same holes.
    offline = load_data_spec("builtin_128_region")
    assert offline["source"] == {"type": "builtin"}
    assert (offline["image_size"], offline["masks"]) == (recipe["image_size"], spec["masks"])
    assert "--data builtin_128_region" in recipe["description"]
