"""A callback that shows what the model does: masked | output | ground truth, every epoch.

Example:
    >>> from keras_inpaint.callbacks import SampleGrid
    >>> from keras_inpaint.data import build_dataset
    >>> batch = next(iter(build_dataset("builtin_64_boxes", 64, 4, split="heldout")))
    >>> callback = SampleGrid(batch, "runs/demo/samples", log_dir="runs/demo/logs")
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFont

from keras_inpaint import images

# Holes are painted in this colour in the "masked" column so they stand out.
HOLE_COLOUR = (255, 0, 255)
# The grid's columns, named in a band above them.
COLUMNS = ("masked", "output", "ground truth")
# Height in pixels of the band of column names.
LABEL_HEIGHT = 16


def sample_grid(masked_image, mask, output, image, min_tile=128):
    """A uint8 grid, one row per sample: masked | output | ground truth.

    Tiles smaller than `min_tile` pixels are enlarged by an integer factor
    (nearest neighbour, so no pixel is invented) to stay readable.
    """
    masked = images.model_to_uint8(masked_image).numpy()
    hole = np.asarray(mask)[..., 0] > 0
    masked[hole] = HOLE_COLOUR
    columns = [masked, images.model_to_uint8(output).numpy(), images.model_to_uint8(image).numpy()]
    rows = [np.concatenate([column[i] for column in columns], axis=1) for i in range(len(masked))]
    grid = np.concatenate(rows, axis=0)
    scale = max(1, -(-min_tile // masked.shape[1]))
    return grid.repeat(scale, axis=0).repeat(scale, axis=1)


def label_columns(grid, labels=COLUMNS):
    """`grid` under a white band naming its equal-width columns, in PIL's default font."""
    width = grid.shape[1] // len(labels)
    band = Image.new("RGB", (grid.shape[1], LABEL_HEIGHT), "white")
    draw = ImageDraw.Draw(band)
    font = ImageFont.load_default()
    for index, label in enumerate(labels):
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        x = index * width + (width - (right - left)) // 2 - left
        y = (LABEL_HEIGHT - (bottom - top)) // 2 - top
        draw.text((x, y), label, fill="black", font=font)
    return np.concatenate([np.asarray(band), grid], axis=0)


def write_png(path, pixels):
    """Write a uint8 `(H, W, 3)` array as PNG, atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(tf.io.encode_png(pixels).numpy())
    partial.replace(path)


class SampleGrid(keras.callbacks.Callback):
    """Write a masked | output | ground-truth PNG per epoch (and to TensorBoard).

    The columns are named in a band above the grid.

    Args:
        batch: one `((masked_image, mask), image)` batch, kept fixed so the
            epochs are comparable (use held-out data).
        out_dir: folder for `epoch_NNN.png` (NNN counts epochs from 1).
        log_dir: optional TensorBoard folder; the grid goes under `samples`.
        max_images: rows in the grid.
    """

    def __init__(self, batch, out_dir, log_dir=None, max_images=8):
        super().__init__()
        (masked_image, mask), image = batch
        self.masked_image = masked_image[:max_images]
        self.mask = mask[:max_images]
        self.image = image[:max_images]
        self.out_dir = Path(out_dir)
        self.writer = None
        if log_dir is not None:
            self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "samples"))

    def on_epoch_end(self, epoch, logs=None):
        output = self.model((self.masked_image, self.mask), training=False)
        if not bool(tf.reduce_all(tf.math.is_finite(output))):
            return  # a diverged model: a grid of garbage would hide the failure
        grid = label_columns(sample_grid(self.masked_image, self.mask, output, self.image))
        write_png(self.out_dir / f"epoch_{epoch + 1:03d}.png", grid)
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.image("masked | output | ground truth", grid[None], step=epoch + 1)
            self.writer.flush()
