"""Tiny models (one per size rule) and reference computations for the export and
serving tests.

Imported as `serving.serving_support` from tests/export and tests/serving alike
(tests/ is on sys.path; tests/serving is a namespace package there).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_inpaint import images
from keras_inpaint.layers.hole_fill import HoleFill
from keras_inpaint.models.context_encoder import ContextEncoderGenerator, ContextEncoderInpainter
from keras_inpaint.models.inpainter import Inpainter


def tiny_fully_convolutional(name="fcn", size_multiple=4):
    """A fully convolutional generator (two stride-2 convs, so sizes are multiples of 4)."""
    masked_image = keras.Input(shape=(None, None, 3), name="masked_image")
    mask = keras.Input(shape=(None, None, 1), name="mask")
    filled = HoleFill(mode="known_mean", name="hole_fill")([masked_image, mask])
    x = keras.layers.Concatenate(name="with_mask")([filled, mask])
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="down1")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="down2")(x)
    x = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", name="up1")(x)
    x = keras.layers.Conv2DTranspose(
        3, 3, strides=2, padding="same", activation="tanh", name="up2"
    )(x)
    generator = keras.Model([masked_image, mask], x, name="fcn_generator")
    generator.size_multiple = size_multiple
    return Inpainter(generator, name=name)


def tiny_context_encoder(variant="full", name=None):
    """A Context Encoder with few filters: `"full"` is tiled by the export, `"center"` fixed."""
    generator = ContextEncoderGenerator(
        image_size=32,
        variant=variant,
        encoder_filters=[8, 8, 8],
        bottleneck=16,
        decoder_filters=[8, 8, 8] if variant == "full" else [8, 8],
        residual=True,
        fill="known_mean",
    )
    return ContextEncoderInpainter(generator, name=name or f"tiny_{variant}")


def photo_and_hole(batch, height, width, seed=0):
    """Smooth uint8 images and box holes (255) that straddle tile borders."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (batch, 4, 4, 3)).astype("float32")
    image = tf.image.resize(coarse, (height, width)).numpy().round().astype(np.uint8)
    mask = np.zeros((batch, height, width, 1), np.uint8)
    for index in range(batch):
        top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
        mask[index, top : top + height // 2, left : left + width // 2] = 255
    return image, mask


def keras_reference(model, image, mask, step, tiled):
    """What an export must give, computed without it: numpy reflect padding to a multiple
    of `step`, the Keras model on the padded image (or on each `step` x `step` tile of it),
    crop, known pixels from the input."""
    hole = (mask != 0).astype("float32")
    masked = images.uint8_to_model(image).numpy() * (1.0 - hole)
    batch, height, width, _ = image.shape
    padding = [(0, 0), (0, -height % step), (0, -width % step), (0, 0)]
    masked, padded_hole = np.pad(masked, padding, "reflect"), np.pad(hole, padding, "reflect")
    if tiled:
        rows, cols = masked.shape[1] // step, masked.shape[2] // step

        def to_tiles(x):
            x = x.reshape(batch, rows, step, cols, step, x.shape[-1]).transpose(0, 1, 3, 2, 4, 5)
            return x.reshape(-1, step, step, x.shape[-1])

        tiles = keras.ops.convert_to_numpy(
            model((to_tiles(masked), to_tiles(padded_hole)), training=False)
        )
        tiles = tiles.reshape(batch, rows, cols, step, step, 3).transpose(0, 1, 3, 2, 4, 5)
        composite = tiles.reshape(batch, rows * step, cols * step, 3)
    else:
        composite = keras.ops.convert_to_numpy(model((masked, padded_hole), training=False))
    expected = images.model_to_uint8(composite[:, :height, :width]).numpy()
    return np.where(mask != 0, expected, image)


def assert_close_and_known_exact(actual, expected, image, mask):
    """uint8 within 1 of `expected`, known pixels equal to the input's."""
    actual = np.asarray(actual)
    assert actual.shape == image.shape and actual.dtype == np.uint8
    assert np.abs(actual.astype(int) - expected.astype(int)).max() <= 1
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(actual[known], image[known])
