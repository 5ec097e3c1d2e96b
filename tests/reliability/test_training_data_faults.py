"""Training data faults: a folder of only corrupt files, repeated bad files, too small images."""

import json
import logging

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_inpaint import cli
from keras_inpaint.callbacks import SkippedImagesLog
from keras_inpaint.data import build_dataset, pipeline
from keras_inpaint.data.sources import SkippedImages

BAD_FILES = ("broken.png", "truncated.jpg", "notes.jpeg")


def write_bad_files(folder):
    """Three files with image extensions that do not decode."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = tf.io.encode_jpeg(tf.zeros((40, 48, 3), tf.uint8)).numpy()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (folder / "notes.jpeg").write_text("a text file with an image extension")
    return folder


def folder_spec(folder):
    return {
        "source": {"type": "folder", "path": str(folder), "heldout_path": str(folder)},
        "masks": {"kind": "center_box"},
    }


@pytest.mark.large
def test_a_folder_of_only_corrupt_files_is_a_clear_error_naming_it(tmp_path, capsys):
    folder = write_bad_files(tmp_path / "images")
    with pytest.raises(ValueError) as raised:
        build_dataset(folder_spec(folder), 32, 2)
    message = str(raised.value)
    assert f"none of the 3 image file(s) in the image folder '{folder}' decodes" in message
    assert "all 3 were tried" in message and "broken.png" in message

    # `keras-inpaint train` says it on one line, as bad input (it said StopIteration).
    command = ["train", "--data-dir", str(folder), "--out", str(tmp_path / "run")]
    assert cli.main([*command, "--no-export", "--epochs", "1", "--steps-per-epoch", "1"]) == 2
    stderr = capsys.readouterr().err
    assert "keras-inpaint train: error: none of the 3 image file(s) in the image folder" in stderr
    assert f"'{folder}' decodes: all 3 were tried" in stderr
    assert "unexpected error" not in stderr and "StopIteration" not in stderr


def test_a_list_of_only_corrupt_files_names_the_list(tmp_path):
    folder = write_bad_files(tmp_path / "images")
    listing = tmp_path / "train.txt"
    listing.write_text("broken.png\nnotes.jpeg\n")
    spec = {"source": {"type": "folder", "path": str(folder), "files": str(listing)}}
    spec["masks"] = {"kind": "center_box"}
    with pytest.raises(ValueError, match=f"none of the 2 image file.s. in the list '{listing}'"):
        build_dataset(spec, 32, 2)


def test_skipped_images_counts_each_bad_file_once_per_epoch_and_run(tmp_path, caplog):
    skipped, path = SkippedImages(), tmp_path / "data_warnings.json"
    callback = SkippedImagesLog(path, skipped=skipped)

    def epoch_reading_each_bad_file(times):
        for _ in range(times):
            for name in BAD_FILES:
                skipped.record(name, "not an image")

    logs = []
    with caplog.at_level(logging.WARNING):
        for epoch in range(2):
            epoch_reading_each_bad_file(times=40)  # 40 passes over a small folder
            logs.append({})
            callback.on_epoch_end(epoch, logs[-1])
    assert [epoch_logs["skipped_images"] for epoch_logs in logs] == [3, 3]
    record = json.loads(path.read_text())
    assert record["skipped_total"] == 3 and record["per_epoch"] == {"1": 3, "2": 3}
    assert {name: entry["epochs"] for name, entry in record["files"].items()} == {
        name: [1, 2] for name in BAD_FILES
    }
    assert all(entry["times"] == 80 for entry in record["files"].values())
    # Said once, when the files were first met: "3 ... file(s) skipped (3 in this run)".
    said = [r.getMessage() for r in caplog.records if "unreadable image file(s)" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("epoch 1: 3 unreadable image file(s) skipped")

    # A run killed in epoch 2 runs its end again: the files are not counted twice.
    resumed = SkippedImagesLog(path, skipped=skipped)
    epoch_reading_each_bad_file(times=1)
    epoch_logs = {}
    resumed.on_epoch_end(1, epoch_logs)
    record = json.loads(path.read_text())
    assert epoch_logs["skipped_images"] == 3
    assert record["skipped_total"] == 3 and record["per_epoch"] == {"1": 3, "2": 3}


@pytest.mark.large
def test_images_smaller_than_the_crop_are_counted_in_one_warning(tmp_path, caplog):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index, (height, width) in enumerate([(40, 48), (36, 36), (20, 48), (40, 12), (32, 32)]):
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"photo_{index}.png")
    write_bad_files(folder)  # not counted: their headers do not parse
    spec = folder_spec(folder)
    pipeline._WARNED_SMALL.clear()
    with caplog.at_level(logging.WARNING, logger=pipeline.__name__):
        (_, mask), image = next(iter(build_dataset(spec, 32, 5)))
        pipeline.warn_small_images(spec["source"], (32, 32))  # a run's next build of batches
    assert tuple(image.shape) == (5, 32, 32, 3) and tuple(mask.shape) == (5, 32, 32, 1)
    said = [record.getMessage() for record in caplog.records if record.name == pipeline.__name__]
    assert said == [
        f"2 of the 5 training images in {folder} are smaller than the 32x32 crop: they are "
        "scaled up to cover it, so they are blurrier than the rest. Leave them out, or train "
        "at a smaller image_size, to train on sharp pixels only."
    ]


def test_a_large_folder_is_sampled_for_small_images(tmp_path, caplog, monkeypatch):
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(8):
        side = 16 if index < 4 else 48  # half the images are smaller than the crop
        Image.fromarray(np.zeros((side, side, 3), np.uint8)).save(folder / f"p{index}.png")
    monkeypatch.setattr(pipeline, "SIZE_CHECK_LIMIT", 4)
    pipeline._WARNED_SMALL.clear()
    with caplog.at_level(logging.WARNING, logger=pipeline.__name__):
        pipeline.warn_small_images({"type": "folder", "path": str(folder)}, (32, 32))
    said = [record.getMessage() for record in caplog.records if record.name == pipeline.__name__]
    assert len(said) == 1 and said[0].startswith(f"about 4 of the 8 training images in {folder}")
