"""Inpaint image files with an exported SavedModel (or a `.keras` model / run directory).

Example:
    >>> from keras_inpaint.inference import inpaint_files
    >>> inpaint_files("runs/quickstart/export/builtin_64/1",
    ...               "photo.png", "hole.png", "filled.png")   # doctest: +SKIP
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_inpaint import images
from keras_inpaint.export import (
    DEFAULT_MAX_SIDE,
    SIGNATURE,
    SizeRule,
    load_inpainter,
    serving_function,
)
from keras_inpaint.postprocess import poisson_blend
from keras_inpaint.serving.rest_protocol import op_error_message


def read_image_file(path, channels):
    """Decode a PNG/JPEG/BMP/GIF file to uint8 `(H, W, channels)`, with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        return tf.io.decode_image(
            path.read_bytes(), channels=channels, expand_animations=False
        ).numpy()
    except tf.errors.InvalidArgumentError:
        raise ValueError(
            f"{path} is not a readable image (PNG, JPEG, BMP or GIF expected)"
        ) from None


class Predictor:
    """A uint8 image + mask -> uint8 inpainted image function from any saved form.

    Sizes follow the export's size rule (see `keras_inpaint.export.SizeRule`):
    most models take any size; a region generator (Context Encoders' center
    variant) only its own.

    Args:
        model_path: a SavedModel export version folder (`<base>/<name>/<version>`),
            a `.keras` file or a training run directory.
        max_side: for `.keras` files and runs, the largest image side accepted
            (an export has its own, chosen when it was written).
    """

    def __init__(self, model_path, max_side=DEFAULT_MAX_SIDE):
        path = Path(model_path)
        if (path / "saved_model.pb").is_file():
            self._fn = tf.saved_model.load(str(path)).signatures[SIGNATURE]
            spec = self._fn.structured_input_signature[1]["image"]
            self.image_size = tuple(spec.shape[1:3])
        else:
            model = load_inpainter(path)
            self._fn = tf.function(serving_function(model, max_side), reduce_retracing=True)
            self.image_size = SizeRule.for_generator(model.generator).signature_size()

    def __call__(self, image, mask):
        """uint8 `(B, H, W, 3)` images and `(B, H, W, 1)` masks (nonzero = hole) -> uint8."""
        images.check_image_and_mask(image, mask, where="inpaint")
        if None not in self.image_size and tuple(np.shape(image)[1:3]) != self.image_size:
            raise ValueError(
                f"this model takes {self.image_size[0]}x{self.image_size[1]} images but got "
                f"{np.shape(image)[1]}x{np.shape(image)[2]}: its generator predicts a fixed "
                "region, so crop a window of that size around the hole (image and mask alike)."
            )
        try:
            result = self._fn(image=tf.constant(image, tf.uint8), mask=tf.constant(mask, tf.uint8))
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(f"inpaint: {op_error_message(error)}") from None
        return result["inpainted"].numpy()


def inpaint_files(model_path, image_path, mask_path, out_path, blend=False):
    """Read an image and a mask file (white = hole), inpaint, write a PNG; returns the pixels.

    `blend=True` adds Poisson blending of the filled region into its
    surroundings (GLCIC's post-processing, `keras_inpaint.postprocess`).
    """
    image = read_image_file(image_path, channels=3)
    mask = read_image_file(mask_path, channels=1)
    hole = (mask > 127).astype(np.uint8)
    inpainted = Predictor(model_path)(image[None], hole[None])[0]
    if blend:
        inpainted = poisson_blend(image, inpainted, hole)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(tf.io.encode_png(inpainted).numpy())
    return inpainted
