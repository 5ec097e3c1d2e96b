"""Sample grids and atomic checkpoints."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import random_batch

from keras_inpaint.callbacks import AtomicCheckpoint, SampleGrid, sample_grid
from keras_inpaint.callbacks.sample_grid import HOLE_COLOUR


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
    assert png.shape == (4 * 128, 3 * 128, 3)
    assert list((tmp_path / "logs" / "samples").glob("events.out.tfevents*"))


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
