"""Unreadable images in a training folder or TFRecord file are skipped, named and counted."""

import csv
import json
import logging

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_inpaint.data import sources
from keras_inpaint.data.sources import SkippedImages, folder_images, tfrecord_images
from keras_inpaint.training import load_recipe, train

BAD_FILES = ("broken.png", "truncated.jpg", "notes.jpeg")


def write_folder(folder, good=6):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(good):
        pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"good_{index}.png")
    jpeg = tf.io.encode_jpeg(tf.zeros((40, 48, 3), tf.uint8)).numpy()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (folder / "notes.jpeg").write_text("a text file with an image extension")
    return folder


def test_every_pass_counts_each_bad_file_exactly_once(tmp_path, caplog):
    folder = write_folder(tmp_path / "images")
    skipped = SkippedImages()
    with caplog.at_level(logging.WARNING, logger=sources.__name__):
        images = list(folder_images(folder, shuffle_seed=3, skipped=skipped).repeat(3))
    assert len(images) == 3 * 6
    counts = skipped.since({})
    assert {path.rsplit("/", 1)[-1]: times for path, times in counts.items()} == {
        name: 3 for name in BAD_FILES
    }
    # One warning per file, naming it and the decoder's reason.
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 3
    assert all(any(name in warning for warning in warnings) for name in BAD_FILES)
    assert all("{{" not in reason and reason for reason in skipped.reasons.values())


def test_tfrecord_records_that_do_not_decode_are_named_by_file_and_index(tmp_path):
    path = tmp_path / "images.tfrecord"
    png = tf.io.encode_png(tf.zeros((4, 4, 3), tf.uint8)).numpy()
    with tf.io.TFRecordWriter(str(path)) as writer:
        for encoded in (png, b"not an image", png, png[:20]):
            feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))
            example = tf.train.Example(features=tf.train.Features(feature={"image": feature}))
            writer.write(example.SerializeToString())
    skipped = SkippedImages()
    images = list(tfrecord_images(str(path), skipped=skipped).repeat(2))
    assert len(images) == 4
    assert skipped.since({}) == {f"{path} record 1": 2, f"{path} record 3": 2}


@pytest.mark.large
def test_a_training_run_logs_the_skipped_files_per_epoch(tmp_path):
    folder = write_folder(tmp_path / "images")
    spec = {
        "source": {"type": "folder", "path": str(folder), "heldout_path": str(folder)},
        "resize": "center_crop",
        "masks": {"kind": "center_box"},
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    recipe = load_recipe("context_encoder/builtin_64")
    recipe["name"] = "tests/bad_files_32"
    recipe["image_size"] = 32
    recipe["generator"]["config"].update(
        image_size=32, encoder_filters=[4, 4, 4], bottleneck=8, decoder_filters=[4, 4, 4]
    )
    recipe["discriminator"]["config"].update(image_size=32, filters=4)
    recipe["training"] = {"batch_size": 4, "epochs": 2, "steps_per_epoch": 3}
    recipe["training"]["validation_batches"] = 1
    before = sources.SKIPPED_IMAGES.snapshot()
    run_dir = tmp_path / "run"
    train(recipe, data=str(spec_path), out_dir=run_dir, export=False, verbose=0)

    record = json.loads((run_dir / "data_warnings.json").read_text())
    assert sorted(path.rsplit("/", 1)[-1] for path in record["files"]) == sorted(BAD_FILES)
    assert all(entry["times"] >= 1 and entry["reason"] for entry in record["files"].values())
    with open(run_dir / "metrics.csv") as handle:
        per_epoch = [int(float(row["skipped_images"])) for row in csv.DictReader(handle)]
    # Counted per distinct file, however many passes met them.
    assert record["skipped_total"] == len(BAD_FILES) == max(per_epoch)
    assert record["per_epoch"] == {str(epoch + 1): n for epoch, n in enumerate(per_epoch) if n}
    # The process-wide count of reads also holds the final evaluation's pass.
    reads = sum(entry["times"] for entry in record["files"].values())
    assert len(BAD_FILES) <= reads <= sum(sources.SKIPPED_IMAGES.since(before).values())
