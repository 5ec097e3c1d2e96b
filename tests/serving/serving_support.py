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
    """What an export must give, computed without it, in numpy.

    Not tiled: reflect padding to a multiple of `step`, the Keras model on the
    padded image, crop. Tiled (an even `step`): reflect padding by `step / 2` on
    every side (more at the bottom and right, to whole half-tiles), the model on
    every `step` x `step` tile at a stride of `step / 2`, each tile weighted by a
    triangle peaking at its centre, the weighted sum divided by the summed
    weights, crop. Known pixels from the input.
    """
    hole = (mask != 0).astype("float32")
    masked = images.uint8_to_model(image).numpy() * (1.0 - hole)
    batch, height, width, _ = image.shape
    if not tiled:
        padding = [(0, 0), (0, -height % step), (0, -width % step), (0, 0)]
        padded, padded_hole = np.pad(masked, padding, "reflect"), np.pad(hole, padding, "reflect")
        composite = keras.ops.convert_to_numpy(model((padded, padded_hole), training=False))
        expected = images.model_to_uint8(composite[:, :height, :width]).numpy()
        return np.where(mask != 0, expected, image)
    half = step // 2
    padding = [(0, 0), (half, (-height) % half + half), (half, (-width) % half + half), (0, 0)]
    padded = np.pad(masked, padding, "reflect")
    padded_hole = np.pad(hole, padding, "reflect")
    window = 1.0 - np.abs(np.arange(step) + 0.5 - half) / half
    window = window[:, None, None] * window[None, :, None]
    total = np.zeros(padded.shape, "float64")
    weights = np.zeros(padded.shape[:3] + (1,), "float64")
    for top in range(0, padded.shape[1] - step + 1, half):
        for left in range(0, padded.shape[2] - step + 1, half):
            tile = padded[:, top : top + step, left : left + step]
            tile_hole = padded_hole[:, top : top + step, left : left + step]
            filled = keras.ops.convert_to_numpy(model((tile, tile_hole), training=False))
            # Tiles without a hole are not run: they keep the known pixels.
            has_hole = tile_hole.reshape(batch, -1).max(axis=1) > 0
            filled = np.where(has_hole[:, None, None, None], filled, tile)
            total[:, top : top + step, left : left + step] += filled * window
            weights[:, top : top + step, left : left + step] += window
    composite = (total / weights)[:, half : half + height, half : half + width]
    expected = images.model_to_uint8(composite.astype("float32")).numpy()
    return np.where(mask != 0, expected, image)


def assert_close_and_known_exact(actual, expected, image, mask):
    """uint8 within 1 of `expected`, known pixels equal to the input's."""
    actual = np.asarray(actual)
    assert actual.shape == image.shape and actual.dtype == np.uint8
    assert np.abs(actual.astype(int) - expected.astype(int)).max() <= 1
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(actual[known], image[known])
