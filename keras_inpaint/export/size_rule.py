"""`SizeRule`: how an export takes images of any size to a generator, never by resizing."""

import dataclasses
import math

import tensorflow as tf

DYNAMIC = "dynamic"
TILED = "tiled"
FIXED = "fixed"


def reflect_indices(size, length):
    """Indices `[0, length)` into an axis of `size` pixels, mirrored past its end.

    Mirrors without repeating the edge pixel (`abcd` -> `abcdcbab...`) and, unlike
    `tf.pad(mode="REFLECT")`, for any amount of padding, so a 20 px image can be
    padded to a 64 px tile.
    """
    period = tf.maximum(2 * size - 2, 1)
    position = tf.range(length) % period
    return tf.where(position < size, position, period - position)


@dataclasses.dataclass(frozen=True)
class SizeRule:
    """The size rule of one generator: which image sizes its export takes, and how.

    Read from the generator by `SizeRule.for_generator`:

    - `"dynamic"`: the generator's inputs have no fixed height and width (built on
      `keras.Input(shape=(None, None, 3))`): the image and its mask are reflect-padded
      at the bottom and right to the next multiple of `generator.size_multiple` (1
      when the generator does not define that attribute), inpainted in one pass and
      cropped back.
    - `"tiled"`: the generator has a fixed input size and predicts the whole image
      (Context Encoders, `variant="full"`): the image is reflect-padded to a multiple
      of that size and cut into tiles of it; only tiles that hold part of the hole
      are run through the model; the result is cropped back.
    - `"fixed"`: the generator has a fixed input size and predicts a region only
      (Context Encoders, `variant="center"`): only that size is accepted; tiling
      would ask it to fill holes outside the region it predicts.

    Known pixels are never changed by any rule (the export copies them from the
    request), and nothing is resized.

    Args:
        mode: `"dynamic"`, `"tiled"` or `"fixed"`.
        height: the multiple (`"dynamic"`) or the generator's input height.
        width: the multiple (`"dynamic"`) or the generator's input width.

    Example:
    ```python
    generator = ContextEncoderGenerator(
        image_size=32, variant="full", encoder_filters=[8, 8, 8], bottleneck=16,
        decoder_filters=[8, 8, 8])
    SizeRule.for_generator(generator)  # SizeRule(mode="tiled", height=32, width=32)
    ```
    """

    mode: str
    height: int
    width: int

    @classmethod
    def for_generator(cls, generator):
        """The rule a generator's input and output shapes (and `size_multiple`) call for."""
        _, height, width, _ = generator.input_shape[0]
        if height is None or width is None:
            multiple = int(getattr(generator, "size_multiple", 1))
            if multiple < 1:
                raise ValueError(f"generator.size_multiple must be >= 1; got {multiple}.")
            return cls(DYNAMIC, multiple, multiple)
        outputs = generator.output_shape
        outputs = outputs if isinstance(outputs, list) else [outputs]
        full_image = all(tuple(shape[1:3]) == (height, width) for shape in outputs)
        return cls(TILED if full_image else FIXED, int(height), int(width))

    def signature_size(self):
        """The `(height, width)` of the `serving_default` inputs (None = any)."""
        return (self.height, self.width) if self.mode == FIXED else (None, None)

    def example_size(self):
        """A size every rule accepts, for warmup requests: the model's own, or about 64."""
        if self.mode != DYNAMIC:
            return self.height, self.width
        return tuple(math.ceil(64 / side) * side for side in (self.height, self.width))

    def check_size(self, height, width):
        """Graph assertions that `(height, width)` is accepted by a fixed-size rule."""
        if self.mode != FIXED:
            return []
        return [
            tf.debugging.assert_equal(
                tf.stack([height, width]),
                tf.constant([self.height, self.width]),
                message=(
                    f"this model takes {self.height}x{self.width} images only (its generator "
                    "predicts a fixed region); crop a window of that size around the hole"
                ),
            )
        ]

    def apply(self, model, masked_image, hole):
        """Run `model` on `(masked_image, hole)` of any accepted size; returns the composite."""
        if self.mode == FIXED:
            # A reshape, not tf.ensure_shape: with ensure_shape, graph optimisation took
            # the mask's size from it, and the size checks run before this saw HxW always.
            masked_image = tf.reshape(masked_image, [-1, self.height, self.width, 3])
            hole = tf.reshape(hole, [-1, self.height, self.width, 1])
            return model((masked_image, hole), training=False)
        height, width = tf.shape(masked_image)[1], tf.shape(masked_image)[2]
        rows = reflect_indices(height, -(-height // self.height) * self.height)
        cols = reflect_indices(width, -(-width // self.width) * self.width)
        padded_image = tf.gather(tf.gather(masked_image, rows, axis=1), cols, axis=2)
        padded_hole = tf.gather(tf.gather(hole, rows, axis=1), cols, axis=2)
        if self.mode == DYNAMIC:
            composite = model((padded_image, padded_hole), training=False)
        else:
            composite = self._run_tiles(model, padded_image, padded_hole)
        return composite[:, :height, :width]

    def _run_tiles(self, model, image, hole):
        image_tiles, grid = self._to_tiles(image)
        hole_tiles, _ = self._to_tiles(hole)
        # A photograph with a small hole is mostly known tiles: only the others run.
        with_hole = tf.where(tf.reduce_any(hole_tiles > 0, axis=[1, 2, 3]))

        def fill_tiles():
            filled = model(
                (tf.gather_nd(image_tiles, with_hole), tf.gather_nd(hole_tiles, with_hole)),
                training=False,
            )
            return tf.tensor_scatter_nd_update(
                image_tiles, with_hole, tf.cast(filled, image_tiles.dtype)
            )

        # Convolutions reject an empty batch, so an image without a hole skips the model.
        tiles = tf.cond(tf.size(with_hole) > 0, fill_tiles, lambda: image_tiles)
        return self._from_tiles(tiles, grid)

    def _to_tiles(self, x):
        batch, channels = tf.shape(x)[0], x.shape[-1]
        rows, cols = tf.shape(x)[1] // self.height, tf.shape(x)[2] // self.width
        x = tf.reshape(x, [batch, rows, self.height, cols, self.width, channels])
        x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
        return tf.reshape(x, [-1, self.height, self.width, channels]), (batch, rows, cols)

    def _from_tiles(self, tiles, grid):
        batch, rows, cols = grid
        channels = tiles.shape[-1]
        x = tf.reshape(tiles, [batch, rows, cols, self.height, self.width, channels])
        x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
        return tf.reshape(x, [batch, rows * self.height, cols * self.width, channels])
