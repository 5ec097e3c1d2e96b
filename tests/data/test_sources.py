import logging

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from keras_inpaint.data import sources
from keras_inpaint.data.sources import (
    KNOWN_TFDS,
    folder_images,
    image_source,
    list_image_files,
    tfds_images,
    tfrecord_images,
)


def _pixels(height, width, offset=0):
    values = (np.arange(height * width * 3) + offset) % 256
    return values.reshape(height, width, 3).astype(np.uint8)


@pytest.fixture
def image_folder(tmp_path):
    """Nested folder: 3 readable images, 1 corrupt .jpg, 2 non-image files."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    Image.fromarray(_pixels(8, 10)).save(tmp_path / "a" / "b" / "one.png")
    Image.fromarray(_pixels(12, 6, 7)).save(tmp_path / "a" / "TWO.JPG", quality=95)
    Image.fromarray(_pixels(5, 9, 3)).save(tmp_path / "three.bmp")
    (tmp_path / "a" / "broken.jpg").write_bytes(b"this is not a jpeg")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "a" / "labels.json").write_text("{}")
    return tmp_path


def _write_tfrecord(path, arrays, image_key="image"):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for array in arrays:
            png = tf.io.encode_png(array).numpy()
            feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[png]))
            example = tf.train.Example(features=tf.train.Features(feature={image_key: feature}))
            writer.write(example.SerializeToString())


# === tfds ===


@pytest.mark.parametrize("name, shape", [("cifar10", (32, 32, 3)), ("celeb_a", (218, 178, 3))])
def test_tfds_images_from_mock_data(name, shape):
    with tfds.testing.mock_data(num_examples=3):
        images = list(tfds_images(name, "train"))
    assert len(images) == 3
    for image in images:
        assert tuple(image.shape) == shape
        assert image.dtype == tf.uint8


def test_tfds_grayscale_images_become_rgb():
    with tfds.testing.mock_data(num_examples=2):
        images = list(tfds_images("mnist", "test"))
    assert [tuple(image.shape) for image in images] == [(28, 28, 3)] * 2
    np.testing.assert_array_equal(images[0][..., 0], images[0][..., 2])


def test_unknown_tfds_name_lists_the_known_ones():
    with pytest.raises(ValueError) as error:
        tfds_images("no_such_images")
    message = str(error.value)
    assert "no_such_images" in message
    assert all(name in message for name in KNOWN_TFDS)
    assert "image_key" in message


def test_tfds_wrong_image_key_names_the_features():
    with tfds.testing.mock_data(num_examples=1):
        with pytest.raises(ValueError, match="label"):
            tfds_images("cifar10", image_key="picture")


class _RecordingLoad:
    """Stands in for tfds.load: records the split and returns one image."""

    def __init__(self, error=None):
        self.calls, self.error = [], error

    def __call__(self, name, split, **kwargs):
        self.calls.append((name, split))
        if self.error:
            raise self.error
        return tf.data.Dataset.from_tensors({"image": tf.zeros((4, 4, 3), tf.uint8)})


@pytest.mark.parametrize(
    "name, split, expected",
    [
        ("cycle_gan/monet2photo", "train", "trainA"),
        ("cycle_gan/monet2photo", "test", "testA"),
        ("cycle_gan/monet2photo", "trainB", "trainB"),
        ("cycle_gan/monet2photo", "train[:10%]", "trainA[:10%]"),
        ("celeb_a_hq/256", "validation", "train[28000:]"),
        ("cifar10", "test", "test"),
    ],
)
def test_friendly_split_names_map_to_the_dataset_splits(monkeypatch, name, split, expected):
    load = _RecordingLoad()
    monkeypatch.setattr(tfds, "load", load)
    tfds_images(name, split)
    assert load.calls == [(name, expected)]


def test_manual_download_error_says_so(monkeypatch):
    monkeypatch.setattr(tfds, "load", _RecordingLoad(AssertionError("Manual directory empty")))
    with pytest.raises(RuntimeError, match="manual download"):
        tfds_images("celeb_a_hq/256")


# === folders ===


def test_folder_images_recursive_any_case_and_skips_corrupt_files(image_folder):
    files = list_image_files(image_folder)
    assert sorted(name.rsplit("/", 1)[-1] for name in files) == [
        "TWO.JPG",
        "broken.jpg",
        "one.png",
        "three.bmp",
    ]
    images = list(folder_images(image_folder))
    assert sorted(tuple(image.shape) for image in images) == [(5, 9, 3), (8, 10, 3), (12, 6, 3)]
    by_shape = {tuple(image.shape): image.numpy() for image in images}
    np.testing.assert_array_equal(by_shape[(8, 10, 3)], _pixels(8, 10))
    np.testing.assert_array_equal(by_shape[(5, 9, 3)], _pixels(5, 9, 3))


def test_folder_shuffle_seed_is_reproducible_and_keeps_every_image(image_folder):
    first = [image.numpy().tobytes() for image in folder_images(image_folder, shuffle_seed=3)]
    again = [image.numpy().tobytes() for image in folder_images(image_folder, shuffle_seed=3)]
    assert first == again
    assert sorted(first) == sorted(image.numpy().tobytes() for image in folder_images(image_folder))


@pytest.mark.parametrize("content", [None, "notes.txt"])
def test_folder_without_images_names_the_folder_and_extensions(tmp_path, content):
    folder = tmp_path / "empty_images"
    folder.mkdir()
    if content:
        (folder / content).write_text("x")
    with pytest.raises(ValueError) as error:
        folder_images(folder)
    assert "empty_images" in str(error.value)
    assert ".jpg" in str(error.value) and ".bmp" in str(error.value)


def test_missing_folder_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="does_not_exist"):
        folder_images(tmp_path / "does_not_exist")


# === TFRecord ===


def test_tfrecord_images_round_trip(tmp_path):
    arrays = [_pixels(6, 7), _pixels(9, 4, 5)]
    _write_tfrecord(tmp_path / "part-0.tfrecord", arrays[:1], image_key="encoded")
    _write_tfrecord(tmp_path / "part-1.tfrecord", arrays[1:], image_key="encoded")
    images = list(tfrecord_images(str(tmp_path / "part-*.tfrecord"), image_key="encoded"))
    assert len(images) == 2
    for image, array in zip(images, arrays, strict=True):
        np.testing.assert_array_equal(image, array)


def test_tfrecord_missing_files_and_wrong_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-"):
        tfrecord_images(str(tmp_path / "nothing-*.tfrecord"))
    _write_tfrecord(tmp_path / "images.tfrecord", [_pixels(4, 4)], image_key="encoded")
    with pytest.raises(ValueError, match="encoded"):
        tfrecord_images(str(tmp_path / "images.tfrecord"), image_key="image")


# === dispatch ===


def test_image_source_dispatches_on_type(image_folder, tmp_path):
    assert sum(1 for _ in image_source({"type": "builtin"}, "train")) == 6
    assert sum(1 for _ in image_source({"type": "folder", "path": str(image_folder)})) == 3
    record = tmp_path / "heldout.tfrecord"
    _write_tfrecord(record, [_pixels(4, 4)])
    spec = {"type": "tfrecord", "pattern": str(record), "heldout_pattern": str(record)}
    assert sum(1 for _ in image_source(spec, "heldout")) == 1
    with tfds.testing.mock_data(num_examples=2):
        tfds_spec = {"type": "tfds", "name": "cifar10", "split": "train"}
        assert sum(1 for _ in image_source(tfds_spec, "heldout")) == 2


def test_heldout_without_heldout_path_warns_and_reuses_training_images(image_folder, caplog):
    with caplog.at_level(logging.WARNING, logger=sources.__name__):
        images = image_source({"type": "folder", "path": str(image_folder)}, "heldout")
    assert sum(1 for _ in images) == 3
    assert "heldout_path" in caplog.text


@pytest.mark.parametrize(
    "spec, split, message",
    [
        ({"type": "ftp", "path": "x"}, "train", "builtin, tfds, folder, tfrecord"),
        ({"path": "x"}, "train", "type"),
        ({"type": "folder"}, "train", "'path'"),
        ({"type": "tfds", "name": "cifar10", "splt": "x"}, "train", "splt"),
        ({"type": "builtin"}, "validation", "heldout"),
    ],
)
def test_bad_source_specs_raise_value_errors(spec, split, message):
    with pytest.raises(ValueError, match=message):
        image_source(spec, split)


def test_folder_file_lists_pick_the_training_and_heldout_images(image_folder):
    (image_folder / "train.txt").write_text("# training\na/b/one.png\n\nthree.bmp\n")
    (image_folder / "val.txt").write_text("a/TWO.JPG\n")
    spec = {
        "type": "folder",
        "path": str(image_folder),
        "files": str(image_folder / "train.txt"),
        "heldout_files": str(image_folder / "val.txt"),
    }
    train = sorted(tuple(image.shape) for image in image_source(spec, "train"))
    assert train == [(5, 9, 3), (8, 10, 3)]
    assert [tuple(image.shape) for image in image_source(spec, "heldout")] == [(12, 6, 3)]


def test_file_list_errors_name_the_list_and_the_missing_files(image_folder):
    from keras_inpaint.data.sources import read_file_list

    with pytest.raises(FileNotFoundError, match="file list .*nope.txt' does not exist"):
        read_file_list(image_folder, image_folder / "nope.txt")
    (image_folder / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="names no images"):
        read_file_list(image_folder, image_folder / "empty.txt")
    (image_folder / "bad.txt").write_text("three.bmp\ngone.png\n")
    with pytest.raises(FileNotFoundError, match=r"1 of the 2 images .* \(first: 'gone.png'\)"):
        read_file_list(image_folder, image_folder / "bad.txt")


def test_with_folder_keeps_the_masks_and_size_of_the_spec(image_folder):
    from keras_inpaint.data import load_data_spec, with_folder

    spec = with_folder(load_data_spec("photos_128"), image_folder, image_folder / "t.txt")
    assert spec["source"] == {
        "type": "folder",
        "path": str(image_folder),
        "files": str(image_folder / "t.txt"),
    }
    assert spec["masks"] == load_data_spec("photos_128")["masks"]
    assert spec["image_size"] == 128
