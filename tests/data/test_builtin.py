import socket

import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.data import builtin
from keras_inpaint.data.builtin import (
    BUILTIN_PHOTOS,
    builtin_images,
    builtin_photos,
    count_crop_positions,
    heldout_crops,
)


def _find_window(region, crop):
    """Top-left corners where `crop` occurs inside `region`."""
    height, width = crop.shape[:2]
    corners = np.argwhere(
        np.all(
            region[: region.shape[0] - height + 1, : region.shape[1] - width + 1] == crop[0, 0], -1
        )
    )
    return [
        (top, left)
        for top, left in corners
        if np.array_equal(region[top : top + height, left : left + width], crop)
    ]


def test_photos_load_offline_from_the_scikit_image_package(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the built-in photographs must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    builtin._load_photo.cache_clear()
    regions = builtin_photos("train")
    assert len(regions) == len(BUILTIN_PHOTOS) == 6
    for region in regions:
        assert region.dtype == np.uint8
        assert region.ndim == 3 and region.shape[-1] == 3
        assert region.shape[0] >= 300 and region.shape[1] >= 300


def test_train_and_heldout_regions_tile_each_photo_without_overlap():
    for name, train, heldout in zip(
        BUILTIN_PHOTOS, builtin_photos("train"), builtin_photos("heldout"), strict=True
    ):
        photo = builtin._load_photo(name)
        assert train.shape[1] + heldout.shape[1] == photo.shape[1]
        assert heldout.shape[1] == round(photo.shape[1] * 0.25)
        np.testing.assert_array_equal(np.concatenate([train, heldout], axis=1), photo)
        # Disjoint column ranges of the same photo: no pixel in both.
        assert not np.shares_memory(train, heldout)


def test_heldout_crops_are_identical_across_calls_and_global_seeds():
    tf.random.set_seed(1)
    np.random.seed(1)
    first = heldout_crops(64, count=12)
    tf.random.set_seed(2)
    np.random.seed(2)
    second = heldout_crops(64, count=12)
    assert first.shape == (12, 64, 64, 3)
    assert first.dtype == np.uint8
    np.testing.assert_array_equal(first, second)
    assert len({crop.tobytes() for crop in first}) == 12


def test_heldout_crops_come_from_the_heldout_regions_only():
    crops = heldout_crops(48, count=6)
    for crop, heldout, train in zip(
        crops, builtin_photos("heldout"), builtin_photos("train"), strict=True
    ):
        assert _find_window(heldout, crop)
        assert not _find_window(train, crop)


def test_heldout_crops_larger_than_a_region_are_scaled_up():
    crops = heldout_crops((160, 200), count=6)
    assert crops.shape == (6, 160, 200, 3)


def test_builtin_images_is_a_dataset_of_the_regions():
    images = list(builtin_images("heldout"))
    assert len(images) == 6
    for image, region in zip(images, builtin_photos("heldout"), strict=True):
        np.testing.assert_array_equal(image, region)


def test_count_crop_positions():
    counts = count_crop_positions(64, "train")
    assert counts["astronaut"] == (512 - 63) * (384 - 63)
    assert set(counts) == set(BUILTIN_PHOTOS)


def test_unknown_split_raises():
    with pytest.raises(ValueError, match="heldout"):
        builtin_photos("test")
