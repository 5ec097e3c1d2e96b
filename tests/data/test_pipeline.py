import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from keras_inpaint.data import masks
from keras_inpaint.data.pipeline import build_dataset, load_data_spec, validate_data_spec
from keras_inpaint.resources import resource_dir

SHIPPED_SPECS = sorted(path.stem for path in resource_dir("data_pipelines").glob("*.json"))


def _spec(**changes):
    spec = load_data_spec("builtin_64_boxes")
    spec.update(changes)
    return spec


def _first(batches):
    return tf.nest.map_structure(lambda tensor: tensor.numpy(), next(iter(batches)))


def _all(batches):
    return [tf.nest.map_structure(lambda tensor: tensor.numpy(), batch) for batch in batches]


def _assert_same_batches(first, second):
    assert len(first) == len(second)
    for one, other in zip(first, second, strict=True):
        for a, b in zip(tf.nest.flatten(one), tf.nest.flatten(other), strict=True):
            np.testing.assert_array_equal(a, b)


def _check_batch(batch, batch_size, height, width):
    (masked_image, mask), image = batch
    assert masked_image.shape == image.shape == (batch_size, height, width, 3)
    assert mask.shape == (batch_size, height, width, 1)
    for array in (masked_image, mask, image):
        assert array.dtype == np.float32
    assert image.min() >= -1.0 and image.max() <= 1.0
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert mask.max() == 1.0, "every batch should have holes"
    np.testing.assert_array_equal(masked_image, image * (1.0 - mask))


@pytest.fixture
def photo_folder(tmp_path):
    for index in range(5):
        pixels = np.random.default_rng(index).integers(0, 256, (40 + index, 50, 3), np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"photo_{index}.png")
    return tmp_path


@pytest.mark.large
def test_training_batches_have_the_contract_structure():
    batches = build_dataset("builtin_64_boxes", batch_size=4)
    spec = batches.element_spec
    assert spec[0][0].shape == (4, 64, 64, 3) and spec[0][1].shape == (4, 64, 64, 1)
    _check_batch(_first(batches), 4, 64, 64)


@pytest.mark.large
def test_same_seed_gives_identical_batches_and_another_seed_differs():
    first = _all(build_dataset("builtin_64_boxes", batch_size=4, seed=7).take(2))
    again = _all(build_dataset("builtin_64_boxes", batch_size=4, seed=7).take(2))
    other = _all(build_dataset("builtin_64_boxes", batch_size=4, seed=8).take(2))
    _assert_same_batches(first, again)
    assert not np.array_equal(first[0][1], other[0][1])


def test_training_repeats_by_default():
    batches = build_dataset("builtin_64_boxes", batch_size=16)
    assert len(list(batches.take(5))) == 5


def test_heldout_batches_are_identical_across_calls_and_seeds():
    first = _all(build_dataset("builtin_64_boxes", batch_size=10, split="heldout", seed=0))
    again = _all(build_dataset("builtin_64_boxes", batch_size=10, split="heldout", seed=9))
    _assert_same_batches(first, again)
    # 64 fixed crops, not repeated; the last partial batch is kept.
    assert [batch[1].shape[0] for batch in first] == [10] * 6 + [4]
    for batch in first:
        _check_batch(batch, batch[1].shape[0], 64, 64)


def test_heldout_is_not_augmented():
    spec = _spec(augment={"flip": True, "brightness": 0.5})
    plain = _all(build_dataset(_spec(augment={}), batch_size=8, split="heldout"))
    augmented = _all(build_dataset(spec, batch_size=8, split="heldout"))
    _assert_same_batches(plain, augmented)


@pytest.mark.parametrize("image_size, expected", [(32, (32, 32)), ((40, 56), (40, 56))])
def test_image_size_argument_overrides_the_spec(image_size, expected):
    for split in ("train", "heldout"):
        batch = _first(build_dataset("builtin_64_boxes", image_size, batch_size=2, split=split))
        _check_batch(batch, 2, *expected)


@pytest.mark.large
@pytest.mark.parametrize("mode", ["random_crop", "center_crop", "resize"])
def test_folder_source_with_each_resize_mode(photo_folder, mode):
    spec = _spec(
        source={"type": "folder", "path": str(photo_folder)},
        resize=mode,
        augment={"flip": True, "rotation": 0.05, "zoom": 0.1, "crop": 0.2, "brightness": 0.1},
    )
    batches = _all(build_dataset(spec, 32, batch_size=2, repeat=False))
    assert len(batches) == 2  # 5 photos, one pass, the partial batch dropped
    for batch in batches:
        _check_batch(batch, 2, 32, 32)


@pytest.mark.large
def test_tfds_specs_build_on_mock_data():
    with tfds.testing.mock_data(num_examples=4):
        train = _first(build_dataset("cifar10_32_strokes", batch_size=4))
        monet = _first(build_dataset("monet_128_augmented", 64, batch_size=2, split="heldout"))
    _check_batch(train, 4, 32, 32)
    _check_batch(monet, 2, 64, 64)


@pytest.mark.parametrize("name", SHIPPED_SPECS)
def test_shipped_specs_are_valid(name):
    spec = load_data_spec(name)
    assert spec["name"] == name
    assert spec["masks"]["kind"] in masks.MASK_KINDS
    assert {"description", "source", "image_size", "resize", "masks", "augment"} <= set(spec)


def test_spec_can_be_a_path(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(_spec(image_size=32)))
    _check_batch(_first(build_dataset(str(path), batch_size=2)), 2, 32, 32)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"sauce": {}}, "sauce"),
        ({"source": {"type": "s3", "path": "x"}}, "s3"),
        ({"masks": {"kind": "heart_shaped"}}, "heart_shaped"),
        ({"resize": "stretch"}, "stretch"),
        ({"augment": {"shear": 0.1}}, "shear"),
        ({"image_size": [64]}, "image_size"),
    ],
)
def test_bad_specs_raise_value_errors_naming_the_problem(changes, message):
    spec = _spec(**changes)
    with pytest.raises(ValueError, match=message):
        validate_data_spec(spec)
    with pytest.raises(ValueError, match=message):
        build_dataset(spec, batch_size=2)


def test_bad_arguments_and_files(tmp_path):
    with pytest.raises(ValueError, match="masks"):
        validate_data_spec({"source": {"type": "builtin"}})
    with pytest.raises(ValueError, match="split"):
        build_dataset("builtin_64_boxes", split="valid")
    with pytest.raises(ValueError, match="no_such_spec"):
        load_data_spec("no_such_spec")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        load_data_spec(str(broken))
    unknown_kind = tmp_path / "unknown_kind.json"
    unknown_kind.write_text(json.dumps(_spec(masks={"kind": "blob"})))
    with pytest.raises(ValueError, match=r"unknown_kind\.json.*blob"):
        load_data_spec(str(unknown_kind))
