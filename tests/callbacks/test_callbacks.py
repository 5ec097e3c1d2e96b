"""Sample grids, metrics.csv and atomic checkpoints."""

import csv

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import random_batch

from keras_inpaint.callbacks import AtomicCheckpoint, MetricsCSV, SampleGrid, sample_grid
from keras_inpaint.callbacks.sample_grid import HOLE_COLOUR, LABEL_HEIGHT, label_columns


def test_grid_rows_are_masked_output_truth_with_magenta_holes():
    (masked_image, mask), image = random_batch(2, 32)
    grid = sample_grid(masked_image, mask, image, image, min_tile=32)
    assert grid.shape == (64, 96, 3) and grid.dtype == np.uint8
    hole = mask.numpy()[0, ..., 0] > 0
    assert np.all(grid[:32, :32][hole] == HOLE_COLOUR)
    np.testing.assert_array_equal(grid[:32, 32:64], grid[:32, 64:96])


def test_small_tiles_are_enlarged_by_whole_pixels():
    (masked_image, mask), image = random_batch(1, 32)
    grid = sample_grid(masked_image, mask, image, image, min_tile=128)
    assert grid.shape == (128, 384, 3)
    np.testing.assert_array_equal(grid[::4, ::4], sample_grid(masked_image, mask, image, image, 1))


class _Recorder(keras.Model):
    def call(self, inputs, training=False):
        masked_image, _ = inputs
        return masked_image


def test_sample_grid_callback_writes_png_and_tensorboard(tmp_path):
    callback = SampleGrid(random_batch(4, 32), tmp_path / "samples", log_dir=tmp_path / "logs")
    callback.set_model(_Recorder())
    callback.on_epoch_end(0)
    png = tf.io.decode_png((tmp_path / "samples" / "epoch_001.png").read_bytes()).numpy()
    assert png.shape == (LABEL_HEIGHT + 4 * 128, 3 * 128, 3)
    assert list((tmp_path / "logs" / "samples").glob("events.out.tfevents*"))
    # A white band names the columns: dark text in each third, the grid below it.
    band = png[:LABEL_HEIGHT]
    for column in range(3):
        third = band[:, column * 128 : (column + 1) * 128]
        assert (third.max(axis=-1) < 128).sum() > 20, f"column {column} has no label"
    (masked_image, mask), image = random_batch(4, 32)
    grid = sample_grid(masked_image, mask, masked_image, image)  # _Recorder's output
    np.testing.assert_array_equal(png[LABEL_HEIGHT:], grid)


def test_column_labels_are_centred_over_their_columns():
    grid = np.zeros((32, 300, 3), np.uint8)
    band = label_columns(grid, ("a", "b", "c"))[:LABEL_HEIGHT]
    dark = np.nonzero(band.max(axis=-1) < 128)[1]
    assert [int(np.mean(dark[(dark >= i * 100) & (dark < (i + 1) * 100)])) for i in range(3)] == (
        pytest.approx([50, 150, 250], abs=4)
    )


def write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([["epoch", "g_loss"], *rows])


def read_csv(path):
    with open(path, newline="") as handle:
        return [row["epoch"] for row in csv.DictReader(handle)]


def test_metrics_csv_counts_epochs_from_1_and_drops_the_epochs_run_again(tmp_path):
    path = tmp_path / "metrics.csv"
    callback = MetricsCSV(path, first_epoch=0)
    for epoch in range(3):
        if epoch == 0:
            callback.on_train_begin()
        callback.on_epoch_end(epoch, {"g_loss": 0.5})
    callback.on_train_end()
    assert read_csv(path) == ["1", "2", "3"]
    # Resumed after 2 epochs: the third epoch's row goes, the new one is numbered 3.
    resumed = MetricsCSV(path, first_epoch=2)
    resumed.on_train_begin()
    resumed.on_epoch_end(2, {"g_loss": 0.25})
    resumed.on_train_end()
    assert read_csv(path) == ["1", "2", "3"]


def test_metrics_csv_of_an_older_run_counting_from_0_is_renumbered(tmp_path):
    path = tmp_path / "metrics.csv"
    write_csv(path, [["0", "0.5"], ["1", "0.4"], ["2", "nan"]])  # epoch 3 diverged
    resumed = MetricsCSV(path, first_epoch=2)
    resumed.on_train_begin()
    resumed.on_epoch_end(2, {"g_loss": 0.3})
    resumed.on_train_end()
    assert read_csv(path) == ["1", "2", "3"]
    with open(path, newline="") as handle:
        assert [row["g_loss"] for row in csv.DictReader(handle)] == ["0.5", "0.4", "0.3"]


def test_atomic_checkpoint_keeps_the_old_file_when_saving_fails(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "ckpt" / "last.keras"
    callback = AtomicCheckpoint(path)
    callback.set_model(model)
    callback.on_epoch_end(0)
    before = path.read_bytes()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(OSError):
        callback.on_epoch_end(1)
    assert path.read_bytes() == before
    assert keras.saving.load_model(path).count_params() == 3


def test_atomic_checkpoint_needs_a_keras_suffix(tmp_path):
    with pytest.raises(ValueError, match="must end in .keras"):
        AtomicCheckpoint(tmp_path / "last.h5")
