"""Tiny models of every family and the uint8 request helpers the ONNX and LiteRT tests share."""

import numpy as np
import pytest
from test_case import tiny_context_encoder, tiny_fully_convolutional

from keras_inpaint import images
from keras_inpaint.models.glcic import GLCICGenerator, GLCICInpainter
from keras_inpaint.models.pconv_unet import PConvInpainter, PConvUNet
from keras_inpaint.models.pepsi import PEPSIGenerator, PEPSIInpainter


def tiny_glcic(image_size=32):
    generator = GLCICGenerator(
        image_size=image_size, base_filters=8, dilation_rates=[1, 2, 4, 8], skip_connections=True
    )
    return GLCICInpainter(generator, name=f"glcic_{image_size or 'any'}")


def tiny_pepsi():
    # PEPSI's generator holds its contextual attention module.
    generator = PEPSIGenerator(image_size=32, filters=4, dilation_rates=[1, 2, 2, 4])
    return PEPSIInpainter(generator, name="pepsi")


def tiny_pconv():
    generator = PConvUNet(
        preset="cifar_net2",
        encoder_filters=[4, 4, 8, 8, 8, 8, 8, 8],
        decoder_filters=[8, 8, 8, 8, 8, 4, 4],
        output_activation="linear",
    )
    return PConvInpainter(generator, objective="l2", vgg_weights=None, name="pconv")


# family -> (builder, whether height and width are dynamic in the ONNX model)
FAMILIES = {
    "fully_convolutional": (tiny_fully_convolutional, True),
    "context_encoder_center": (lambda: tiny_context_encoder("center"), False),
    "context_encoder_full": (lambda: tiny_context_encoder("full"), False),
    "glcic_fixed": (tiny_glcic, False),
    "glcic_any_size": (lambda: tiny_glcic(None), True),
    "pepsi": (tiny_pepsi, False),
    "pconv_unet": (tiny_pconv, False),
}
# Their conversions take about 5 s or more on a CPU.
LARGE = {"glcic_any_size", "pconv_unet"}


def request(batch_size, height, width, seed=0):
    """uint8 noise images and box masks (0/255 and 0/1: nonzero = hole), one per image."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (batch_size, height, width, 3), dtype=np.uint8)
    mask = np.zeros((batch_size, height, width, 1), np.uint8)
    for index in range(batch_size):
        top, left = 2 + 3 * index, 1 + 2 * index
        mask[index, top : top + height // 2, left : left + width // 3] = 255 if index % 2 else 1
    return image, mask


def keras_composite(model, image, mask):
    """The Keras model's uint8 composite: the hole from the model, known pixels from `image`."""
    hole = (mask > 0).astype("float32")
    masked_image = images.uint8_to_model(image) * (1.0 - hole)
    filled = images.model_to_uint8(model((masked_image, hole), training=False)).numpy()
    return np.where(hole > 0, filled, image)


def assert_matches(actual, expected, image, mask):
    assert actual.dtype == np.uint8 and actual.shape == image.shape
    assert np.abs(actual.astype(int) - expected.astype(int)).max() <= 1
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(actual[known], image[known])


def family_params():
    return [
        pytest.param(family, marks=[pytest.mark.large] if family in LARGE else [])
        for family in FAMILIES
    ]
