"""Pixel conversions and the input checks every entry point uses."""

import numpy as np
import pytest

from keras_inpaint import images


def test_uint8_round_trip_is_exact():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=-1)
    model_range = images.uint8_to_model(pixels)
    assert float(model_range.numpy().min()) == -1.0 and float(model_range.numpy().max()) == 1.0
    np.testing.assert_array_equal(images.model_to_uint8(model_range).numpy(), pixels)


def test_model_to_uint8_clips_out_of_range_values():
    out = images.model_to_uint8(np.array([-3.0, -1.0, 0.0, 1.0, 2.5], np.float32)).numpy()
    np.testing.assert_array_equal(out, [0, 0, 128, 255, 255])


@pytest.mark.parametrize(
    "mask",
    [
        np.array([[0, 255]], np.uint8),
        np.array([[0, 1]], np.uint8),
        np.array([[False, True]]),
    ],
)
def test_binarize_mask_accepts_0_255_0_1_and_bool(mask):
    np.testing.assert_array_equal(images.binarize_mask(mask[..., None]).numpy()[..., 0], [[0, 1]])


def test_binarize_mask_collapses_channels():
    rgb = np.zeros((1, 2, 2, 3), np.uint8)
    rgb[0, 0, 0, 2] = 7
    collapsed = images.binarize_mask(rgb).numpy()
    assert collapsed.shape == (1, 2, 2, 1) and collapsed.sum() == 1


@pytest.mark.parametrize(
    ("image_shape", "mask_shape", "message"),
    [
        ((8, 8, 3), (1, 8, 8, 1), "Add a batch axis"),
        ((1, 8, 8, 4), (1, 8, 8, 1), "4 channels; expected 3"),
        ((1, 8, 8, 1), (1, 8, 8, 1), "1 channels; expected 3"),
        ((1, 8, 8, 3), (1, 8, 8, 3), "Use images.binarize_mask"),
        ((1, 8, 8, 3), (1, 8, 6, 1), r"the mask is 6x8 but the image is 8x8 \(width x height\)"),
        ((2, 8, 8, 3), (1, 8, 8, 1), "2 images but 1 masks"),
    ],
)
def test_bad_shapes_name_the_problem_and_the_fix(image_shape, mask_shape, message):
    with pytest.raises(ValueError, match=message):
        images.check_image_and_mask(np.zeros(image_shape), np.zeros(mask_shape))


def test_good_shapes_pass():
    images.check_image_and_mask(np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8, 1)))


def test_float_images_in_0_1_become_rounded_uint8():
    pixels = np.array([0.0, 0.2, 0.5, 1.0]).reshape(1, 1, 4, 1).repeat(3, -1)
    np.testing.assert_array_equal(images.as_uint8_images(pixels)[0, 0, :, 0], [0, 51, 128, 255])


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        (np.full((1, 2, 2, 3), 2.0), "values up to 2; float images must be in"),
        (np.full((1, 2, 2, 3), -0.5), "model_to_uint8"),
        (np.full((1, 2, 2, 3), 300, np.int32), "expected 0..255"),
    ],
)
def test_out_of_range_images_are_refused_not_clipped(pixels, message):
    with pytest.raises(ValueError, match=message):
        images.as_uint8_images(pixels)


def test_mask_files_are_white_on_black_or_0_1_and_alpha_is_ignored():
    gray = np.array([[[0], [100], [200]]], np.uint8)
    np.testing.assert_array_equal(images.hole_from_mask_file(gray)[..., 0], [[0, 0, 1]])
    zero_one = np.array([[[0], [1], [1]]], np.uint8)
    np.testing.assert_array_equal(images.hole_from_mask_file(zero_one)[..., 0], [[0, 1, 1]])
    # An opaque black mask with an alpha channel has no hole.
    gray_alpha = np.array([[[0, 255], [0, 255]]], np.uint8)
    assert images.hole_from_mask_file(gray_alpha).sum() == 0
