"""`SizeRule`: how an export takes images of any size to a generator, never by resizing."""

import dataclasses
import math

import tensorflow as tf

DYNAMIC = "dynamic"
TILED = "tiled"
FIXED = "fixed"


def reflect_indices(size, length, start=0):
    """Indices of positions `[start, start + length)` into an axis of `size` pixels, mirrored.

    Mirrors without repeating the edge pixel (`abcd` -> `abcdcbab...`, and
    `...cb|abcd` before the start) and, unlike `tf.pad(mode="REFLECT")`, for any
    amount of padding, so a 20 px image can be padded to a 64 px tile.
    """
    period = tf.maximum(2 * size - 2, 1)
    position = tf.abs(tf.range(start, start + length)) % period
    return tf.where(position < size, position, period - position)


def tile_window(size):
    """Blending weights along one side of a tile of `size` px (even), a triangle.

    `1 - |i + 0.5 - size / 2| / (size / 2)`, largest at the centre: two tiles half a
    tile apart sum to exactly 1 where they overlap, and no weight is 0.
    """
    half = size / 2
    return 1.0 - tf.abs(tf.range(size, dtype=tf.float32) + 0.5 - half) / half


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
      (Context Encoders, `variant="full"`, PEPSI): the image is reflect-padded by half
      a tile on every side (more at the bottom and right, to whole half tiles), cut
      into tiles of that size overlapping by half a tile, and the tiles that hold
      part of the hole are run through the model; the outputs are blended with
      triangular weights (each pixel is a weighted mean of the four tiles over it,
      weights largest at a tile's centre), so a hole that crosses a tile's border
      has no seam; the result is cropped back. Along a side of odd length the tiles
      do not overlap. An image of exactly the model's size is filled in one pass.
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
            return self._run_whole(model, masked_image, hole)
        height, width = tf.shape(masked_image)[1], tf.shape(masked_image)[2]
        if self.mode == DYNAMIC:
            rows = reflect_indices(height, -(-height // self.height) * self.height)
            cols = reflect_indices(width, -(-width // self.width) * self.width)
            padded_image = tf.gather(tf.gather(masked_image, rows, axis=1), cols, axis=2)
            padded_hole = tf.gather(tf.gather(hole, rows, axis=1), cols, axis=2)
            return model((padded_image, padded_hole), training=False)[:, :height, :width]

        # An image of the model's own size is filled in one pass, as the model fills it.
        def one_pass():
            return tf.cond(
                tf.reduce_any(hole > 0),
                lambda: self._run_whole(model, masked_image, hole),
                lambda: masked_image,  # convolutions reject an empty batch
            )

        def tiles():
            return self._run_tiles(model, masked_image, hole)

        static = (masked_image.shape[1], masked_image.shape[2])
        if None not in static:
            return one_pass() if static == (self.height, self.width) else tiles()
        own_size = tf.logical_and(tf.equal(height, self.height), tf.equal(width, self.width))
        return tf.cond(own_size, one_pass, tiles)

    def _run_whole(self, model, masked_image, hole):
        # A reshape, not tf.ensure_shape: with ensure_shape, graph optimisation took
        # the mask's size from it, and the size checks run before this saw HxW always.
        masked_image = tf.reshape(masked_image, [-1, self.height, self.width, 3])
        hole = tf.reshape(hole, [-1, self.height, self.width, 1])
        return model((masked_image, hole), training=False)

    def tile_layout(self):
        """`((step, blocks), (step, blocks))` for rows and columns: tiles start every
        `step` px and span `blocks` steps (2, half-overlapping; 1 for an odd side)."""
        sides = (self.height, self.width)
        return tuple((side // 2, 2) if side % 2 == 0 else (side, 1) for side in sides)

    def _run_tiles(self, model, masked_image, hole):
        height, width = tf.shape(masked_image)[1], tf.shape(masked_image)[2]
        (row_step, row_blocks), (col_step, col_blocks) = self.tile_layout()
        # Half a tile of context before the image too, so every pixel lies under
        # two tiles per axis; the padded sides are whole numbers of steps.
        top, left = (row_blocks - 1) * row_step, (col_blocks - 1) * col_step
        padded_height = (-(-height // row_step) + 2 * (row_blocks - 1)) * row_step
        padded_width = (-(-width // col_step) + 2 * (col_blocks - 1)) * col_step
        rows = reflect_indices(height, padded_height, start=-top)
        cols = reflect_indices(width, padded_width, start=-left)
        image = tf.gather(tf.gather(masked_image, rows, axis=1), cols, axis=2)
        hole = tf.gather(tf.gather(hole, rows, axis=1), cols, axis=2)
        image_tiles, grid = self._to_tiles(image, row_step, col_step)
        hole_tiles, _ = self._to_tiles(hole, row_step, col_step)
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
        window = self._window()
        blended = self._overlap_add(tiles * window, grid)
        weights = self._overlap_add(tf.ones_like(tiles[..., :1]) * window, grid)
        return (blended / weights)[:, top : top + height, left : left + width]

    def _window(self):
        (_, row_blocks), (_, col_blocks) = self.tile_layout()
        along_rows = tile_window(self.height) if row_blocks == 2 else tf.ones([self.height])
        along_cols = tile_window(self.width) if col_blocks == 2 else tf.ones([self.width])
        return along_rows[:, None, None] * along_cols[None, :, None]

    def _to_tiles(self, x, row_step, col_step):
        tiles = tf.image.extract_patches(
            x,
            sizes=[1, self.height, self.width, 1],
            strides=[1, row_step, col_step, 1],
            rates=[1, 1, 1, 1],
            padding="VALID",
        )
        batch, rows, cols = tf.shape(tiles)[0], tf.shape(tiles)[1], tf.shape(tiles)[2]
        tiles = tf.reshape(tiles, [-1, self.height, self.width, x.shape[-1]])
        return tiles, (batch, rows, cols)

    def _overlap_add(self, tiles, grid):
        """Sum overlapping tiles into one image: each block of a tile goes to its cell."""
        batch, rows, cols = grid
        (row_step, row_blocks), (col_step, col_blocks) = self.tile_layout()
        channels = tiles.shape[-1]
        blocks = tf.reshape(
            tiles, [batch, rows, cols, row_blocks, row_step, col_blocks, col_step, channels]
        )
        total = 0.0
        for dy in range(row_blocks):
            for dx in range(col_blocks):
                shift = [[0, 0], [dy, row_blocks - 1 - dy], [dx, col_blocks - 1 - dx]]
                total += tf.pad(blocks[:, :, :, dy, :, dx, :, :], shift + [[0, 0]] * 3)
        cells_down, cells_across = rows + row_blocks - 1, cols + col_blocks - 1
        total = tf.transpose(total, [0, 1, 3, 2, 4, 5])
        return tf.reshape(total, [batch, cells_down * row_step, cells_across * col_step, channels])
