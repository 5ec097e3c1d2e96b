"""A tfds data spec prepares its dataset on first use and reads it, offline.

`tiny_tfds.tiny_photos` is a real `GeneratorBasedBuilder` over local PNG
files, defined in a package like tfds's own builders, so its first
`download_and_prepare` goes the way a real dataset's does (through
`importlib_resources`, which the install must provide). Its splits are the
subfolders written here, so it also stands in for `cycle_gan/monet2photo`
(`trainA` / `trainB` / `testA` / `testB`) to check that a spec's split
selection reads the split it names.
"""

import importlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from keras_inpaint.data import build_dataset, load_data_spec
from keras_inpaint.data.sources import image_source

SIZES = {"train": [(20, 24), (18, 30), (24, 24)], "test": [(22, 26), (16, 16)]}
# cycle_gan/monet2photo's splits: A = Monet paintings, B = photographs.
CYCLE_GAN_SIZES = {
    "trainA": [(20, 20), (30, 24)],
    "trainB": [(24, 30), (26, 20), (32, 32)],
    "testA": [(18, 18)],
    "testB": [(28, 22), (20, 26)],
}
PHOTOS_SPEC = "monet2photo_photos_128_region"


def write_photos(folder, sizes=SIZES):
    """PNG files per split, each filled with its own value; `{split: [pixels]}`."""
    written = {}
    for offset, (split, split_sizes) in enumerate(sizes.items()):
        (folder / split).mkdir(parents=True)
        written[split] = []
        for index, (height, width) in enumerate(split_sizes):
            value = 40 * index + 25 * offset
            pixels = np.full((height, width, 3), value, np.uint8)
            Image.fromarray(pixels).save(folder / split / f"photo_{index}.png")
            written[split].append(pixels)
    return written


@pytest.fixture
def photo_splits(tmp_path, monkeypatch):
    """Registers the `tiny_photos` builder with tfds; returns `write(sizes)` for its PNG files."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    module = importlib.import_module("tiny_tfds.tiny_photos")
    monkeypatch.setenv(module.SOURCE_ENV, str(tmp_path / "photos"))
    return lambda sizes: write_photos(tmp_path / "photos", sizes)


@pytest.fixture
def tiny_photos(photo_splits):
    """The `tiny_photos` builder over fresh PNG files in `train/` and `test/`."""
    return photo_splits(SIZES)


def as_sorted_list(images):
    return sorted((image.numpy() for image in images), key=lambda image: image.shape)


def assert_same_images(images, expected):
    expected = sorted(expected, key=lambda image: image.shape)
    assert len(images) == len(expected)
    for image, pixels in zip(images, expected, strict=True):
        np.testing.assert_array_equal(image, pixels)


@pytest.mark.large
def test_a_tfds_spec_prepares_its_dataset_and_reads_both_splits(tiny_photos, tmp_path):
    source = {
        "type": "tfds",
        "name": "tiny_photos",
        "data_dir": str(tmp_path / "tfds"),
        "heldout_split": "test",
    }
    train = as_sorted_list(image_source(source, "train", shuffle_seed=1))
    assert (tmp_path / "tfds" / "tiny_photos" / "1.0.0" / "dataset_info.json").is_file()
    heldout = as_sorted_list(image_source(source, "heldout"))
    assert_same_images(train, tiny_photos["train"])
    assert_same_images(heldout, tiny_photos["test"])

    spec = {"source": source, "masks": {"kind": "center_box"}, "resize": "center_crop"}
    (masked_image, mask), image = next(iter(build_dataset(spec, 16, 2, "heldout")))
    assert tuple(image.shape) == (2, 16, 16, 3) and tuple(mask.shape) == (2, 16, 16, 1)


@pytest.mark.large
def test_the_photos_spec_reads_the_photographs_split_not_the_paintings(photo_splits, tmp_path):
    written = photo_splits(CYCLE_GAN_SIZES)
    spec = load_data_spec(PHOTOS_SPEC)
    # tiny_photos, with cycle_gan's four split names, stands in for the download.
    source = dict(spec["source"], name="tiny_photos", data_dir=str(tmp_path / "tfds"))
    assert_same_images(as_sorted_list(image_source(source, "train")), written["trainB"])
    assert_same_images(as_sorted_list(image_source(source, "heldout")), written["testB"])

    (masked_image, mask), image = next(iter(build_dataset(dict(spec, source=source), 16, 2)))
    assert tuple(image.shape) == (2, 16, 16, 3) and tuple(mask.shape) == (2, 16, 16, 1)
    hole_ratio = np.asarray(mask).mean(axis=(1, 2, 3))
    assert np.all((hole_ratio >= 0.2) & (hole_ratio <= 0.3)), hole_ratio


def test_the_photos_spec_asks_tfds_for_monet2photos_b_splits():
    requested = []

    def as_dataset(self, split, **kwargs):
        requested.append((self.name, self.builder_config.name, str(split)))
        return tf.data.Dataset.from_tensors({"image": tf.zeros((4, 4, 3), tf.uint8)})

    source = load_data_spec(PHOTOS_SPEC)["source"]
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        for split in ("train", "heldout"):
            assert len(list(image_source(source, split))) == 1
    assert requested == [
        ("cycle_gan", "monet2photo", "trainB"),
        ("cycle_gan", "monet2photo", "testB"),
    ]
