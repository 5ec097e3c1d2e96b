import numpy as np
import pytest
import tensorflow as tf

from keras_inpaint.data.augment import (
    AUGMENT_KEYS,
    affine_transform,
    center_crop,
    center_crop_resize,
    make_augment_fn,
    random_crop,
    resize,
    resize_to_cover,
)

FULL_SPEC = {"flip": True, "rotation": 0.05, "brightness": 0.1, "zoom": 0.1, "crop": 0.2}


def _image(height=32, width=48, seed=0):
    return tf.random.stateless_uniform((height, width, 3), [seed, 0], -1.0, 1.0)


def test_same_seed_gives_the_same_image_and_other_seeds_differ():
    augment = make_augment_fn(FULL_SPEC)
    image = _image()
    first = augment(image, tf.constant([3, 4]))
    again = augment(image, tf.constant([3, 4]))
    other = augment(image, tf.constant([3, 5]))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("key", AUGMENT_KEYS)
def test_each_augmentation_keeps_shape_dtype_and_range(key):
    value = True if key == "flip" else 0.2
    augment = make_augment_fn({key: value})
    image = _image()
    changed = False
    for index in range(8):
        out = augment(image, tf.constant([index, 0]))
        assert out.shape == image.shape
        assert out.dtype == tf.float32
        assert float(tf.reduce_min(out)) >= -1.0
        assert float(tf.reduce_max(out)) <= 1.0
        changed = changed or not np.array_equal(out, image)
    assert changed, f"{key} never changed the image in 8 seeds"


def test_flip_gives_the_image_or_its_mirror():
    augment = make_augment_fn({"flip": True})
    image = _image()
    outcomes = set()
    for index in range(10):
        out = augment(image, tf.constant([index, 1])).numpy()
        if np.array_equal(out, image):
            outcomes.add("same")
        else:
            np.testing.assert_array_equal(out, image.numpy()[:, ::-1])
            outcomes.add("mirrored")
    assert outcomes == {"same", "mirrored"}


def test_empty_spec_is_the_identity():
    image = _image()
    for spec in (None, {}):
        np.testing.assert_array_equal(make_augment_fn(spec)(image, tf.constant([0, 0])), image)


def test_augment_runs_inside_tf_data_with_static_shape():
    augment = make_augment_fn(FULL_SPEC)
    images = tf.data.Dataset.from_tensors(_image()).repeat(3).enumerate()
    images = images.map(lambda index, image: augment(image, tf.stack([index, index])))
    assert images.element_spec.shape == (32, 48, 3)
    outputs = list(images)
    assert len(outputs) == 3
    np.testing.assert_array_equal(outputs[1], augment(_image(), tf.constant([1, 1], tf.int64)))


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"flip": True, "hue": 0.1}, "hue"),
        ({"rotation": 2.0}, "rotation"),
        ({"zoom": -0.1}, "zoom"),
        ({"flip": "yes"}, "flip"),
        ({"brightness": True}, "brightness"),
        (["flip"], "dict"),
    ],
)
def test_bad_specs_raise_value_errors_naming_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        make_augment_fn(spec)


def test_affine_transform_identity_and_shift():
    image = tf.reshape(tf.range(16, dtype=tf.float32), (4, 4, 1))
    np.testing.assert_array_equal(affine_transform(image, 0.0, 1.0, [0.0, 0.0]), image)
    shifted = affine_transform(image, 0.0, 1.0, [1.0, 0.0])
    np.testing.assert_array_equal(shifted[:, :3], image[:, 1:])


def test_resize_to_cover_scales_small_images_up_and_keeps_large_ones():
    small = tf.zeros((10, 20, 3), tf.uint8)
    assert resize_to_cover(small, (32, 32)).shape == (32, 64, 3)
    assert resize_to_cover(small, (32, 32)).dtype == tf.uint8
    large = tf.random.uniform((50, 60, 3), maxval=255, dtype=tf.int32)
    np.testing.assert_array_equal(resize_to_cover(large, (32, 32)), large)


def test_random_crop_is_a_window_of_the_image_and_seeded():
    image = tf.reshape(tf.range(50 * 60 * 3) % 251, (50, 60, 3))
    crop = random_crop(image, (16, 24), tf.constant([1, 2])).numpy()
    np.testing.assert_array_equal(crop, random_crop(image, (16, 24), tf.constant([1, 2])))
    top, left = np.argwhere(np.all(image.numpy() == crop[0, 0], axis=-1))[0]
    np.testing.assert_array_equal(image.numpy()[top : top + 16, left : left + 24], crop)


def test_center_crop_takes_the_middle():
    image = tf.reshape(tf.range(6 * 8), (6, 8, 1))
    np.testing.assert_array_equal(center_crop(image, (2, 4)), image[2:4, 2:6])


def test_sizing_helpers_give_the_requested_size_and_dtype():
    image = tf.zeros((218, 178, 3), tf.uint8)
    sized = {
        (128, 96): center_crop_resize(image, (128, 96)),
        (64, 64): resize(image, (64, 64)),
        (256, 96): random_crop(image, (256, 96), tf.constant([0, 0])),
        (32, 300): center_crop(image, (32, 300)),
    }
    for size, result in sized.items():
        assert tuple(result.shape) == (*size, 3)
        assert result.dtype == tf.uint8
