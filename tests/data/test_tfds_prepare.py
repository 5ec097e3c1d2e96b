"""A tfds data spec prepares its dataset on first use and reads it, offline.

`tiny_tfds.tiny_photos` is a real `GeneratorBasedBuilder` over local PNG
files, defined in a package like tfds's own builders, so its first
`download_and_prepare` goes the way a real dataset's does (through
`importlib_resources`, which the install must provide).
"""

import importlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_inpaint.data import build_dataset
from keras_inpaint.data.sources import image_source

SIZES = {"train": [(20, 24), (18, 30), (24, 24)], "test": [(22, 26), (16, 16)]}


def write_photos(folder):
    """PNG files per split, each filled with its own value; `{split: [pixels]}`."""
    written = {}
    for split, sizes in SIZES.items():
        (folder / split).mkdir(parents=True)
        written[split] = []
        for index, (height, width) in enumerate(sizes):
            value = 40 * index + (100 if split == "test" else 0)
            pixels = np.full((height, width, 3), value, np.uint8)
            Image.fromarray(pixels).save(folder / split / f"photo_{index}.png")
            written[split].append(pixels)
    return written


@pytest.fixture
def tiny_photos(tmp_path, monkeypatch):
    """The `tiny_photos` builder (registered with tfds on import) over fresh PNG files."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    module = importlib.import_module("tiny_tfds.tiny_photos")
    written = write_photos(tmp_path / "photos")
    monkeypatch.setenv(module.SOURCE_ENV, str(tmp_path / "photos"))
    return written


def as_sorted_list(images):
    return sorted((image.numpy() for image in images), key=lambda image: image.shape)


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
    for images, split in ((train, "train"), (heldout, "test")):
        expected = sorted(tiny_photos[split], key=lambda image: image.shape)
        assert len(images) == len(expected)
        for image, pixels in zip(images, expected, strict=True):
            np.testing.assert_array_equal(image, pixels)

    spec = {"source": source, "masks": {"kind": "center_box"}, "resize": "center_crop"}
    (masked_image, mask), image = next(iter(build_dataset(spec, 16, 2, "heldout")))
    assert tuple(image.shape) == (2, 16, 16, 3) and tuple(mask.shape) == (2, 16, 16, 1)
