"""`ContextualAttention`: PEPSI's contextual attention module (CAM), without the 1x1 mixing conv.

PEPSI: https://arxiv.org/abs/1901.03396; the contextual attention it builds
on: https://arxiv.org/abs/1801.07892.
"""

import keras
from keras import ops

_IMPLEMENTATIONS = ("fused", "patches")


@keras.saving.register_keras_serializable(package="keras_inpaint")
class ContextualAttention(keras.layers.Layer):
    """Rebuild the hole's features from 3x3 patches of the known region.

    The contextual attention of PEPSI (Sagong et al., CVPR 2019,
    https://arxiv.org/abs/1901.03396, section 3.2), after Yu et al.'s
    (https://arxiv.org/abs/1801.07892), on a feature map `x (B, H, W, C)` and
    the image mask `(B, Hm, Wm, 1)` (1 = hole; `Hm, Wm` an integer multiple of
    `H, W`, e.g. the input image's mask):

    1. The mask is max-pooled to `(H, W)`: a cell is a hole if any pixel it
       covers is. A 3x3 patch is a *background* patch when none of its cells
       is a hole (zero padding outside the map counts as known, as a
       convolution's padding does).
    2. Every position i (the foreground query) is compared with every
       background patch j by the Euclidean distance of their 3x3 patches,
       `d_ij = ||p_i - p_j||`, and the distances are made a bounded score by
       PEPSI's truncated distance similarity,
       `s_ij = tanh(-(d_ij - mean_j d_ij) / std_j d_ij)`, mean and standard
       deviation taken over the background patches of the image.
    3. `a_ij = softmax_j(scale * s_ij)` over background patches only: a patch
       that touches the hole has weight exactly 0.
    4. Position i's patch is rebuilt as `sum_j a_ij p_j`; the rebuilt 3x3
       patches are pasted back and overlapping values averaged (9 in the
       interior, fewer at the border).
    5. Hole cells take the rebuilt features; known cells keep `x`.

    The output is `(B, H, W, C)`. PEPSI then concatenates it with `x` and mixes
    the two with a 1x1 conv (done by `PEPSIGenerator`, not by this layer).
    Rebuilt values are convex combinations of known-region features (and of
    the zero padding), so no value of the hole ever reaches the output except
    through the queries' own features, which decide *where* to look. An image with no background
    patch gets zeros in its hole.

    Cost, with `N = H * W` positions: matching and rebuilding are each an
    `(N x N)` by `(N x C)` matrix product, so time grows as `O(N^2 * C) =
    O((HW)^2 * C)` and memory as `O(B * N^2)` (the score matrices); doubling
    the side of the feature map multiplies both by 16. PEPSI's encoder maps a
    256x256 image to 32x32x256 (N = 1024). Two implementations compute the
    same values:

    - `"patches"`: the direct transcription: `keras.ops.image.extract_patches`
      gives `(B, N, 9C)` patch vectors, matched and rebuilt by two matrix
      products of `O(9 * N^2 * C)` each, then pasted back by nine shifted
      sums.
    - `"fused"` (default): 3x3 patch dot products are sums of 9 pixel dot
      products at the same offset, `p_i . p_j = sum_o x_(i+o) . x_(j+o)`, so
      one `(N x N)` Gram matrix of pixels, shifted along both position axes
      at once and summed over the 3x3 offsets (separable: 3 row shifts, then
      3 column shifts), gives every patch product at
      `O(N^2 * C + 6 * N^2)`; pasting back is folded into the attention
      matrix the same way, so rebuilding is a single `(N x N) @ (N x C)`
      product. About 9x fewer
      multiply-adds than `"patches"`; see `benchmarks/cam_cost.py`. It runs
      a band of query rows at a time (about 2^20 scores an image) and never
      holds a `(B, N, N)` tensor in inference (training keeps each band's
      intermediates for the gradient), and skips the bands the output does
      not read (more than two rows from the hole in every image).

    Args:
        scale: softmax scale of the similarity scores (PEPSI: 50). The
            scores lie in [-1, 1], so the softmax is nearly one-hot for large
            scales.
        implementation: `"fused"` or `"patches"` (same values, see above).
        epsilon: small constant under the square roots of the distance and
            the standard deviation (keeps gradients finite for identical
            patches).
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    ```python
    features = np.random.normal(size=(2, 8, 8, 16)).astype("float32")
    mask = np.zeros((2, 64, 64, 1), "float32")
    mask[:, 16:40, 16:40] = 1.0
    attended = keras_inpaint.layers.ContextualAttention(scale=50.0)([features, mask])
    # (2, 8, 8, 16): the hole's cells rebuilt from known 3x3 patches.
    ```
    """

    def __init__(self, scale=50.0, implementation="fused", epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        if implementation not in _IMPLEMENTATIONS:
            raise ValueError(
                f"`implementation` must be one of {_IMPLEMENTATIONS}; got {implementation!r}."
            )
        self.scale = float(scale)
        self.implementation = implementation
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        feature_shape, mask_shape = input_shape
        _, height, width, channels = feature_shape
        _, mask_height, mask_width, _ = mask_shape
        if None in (height, width, channels, mask_height, mask_width):
            raise ValueError(
                "ContextualAttention needs static spatial shapes; got features "
                f"{tuple(feature_shape)} and mask {tuple(mask_shape)}."
            )
        if mask_height % height or mask_width % width:
            raise ValueError(
                f"The mask ({mask_height}x{mask_width}) must be an integer multiple of the "
                f"feature map ({height}x{width})."
            )
        if mask_height // height != mask_width // width:
            raise ValueError(
                "The mask must be downsampled by the same factor along both axes; got "
                f"{mask_height // height} and {mask_width // width}."
            )

    def call(self, inputs):
        x, mask = inputs
        _, height, width, channels = x.shape
        mask, background = self._hole_cells(x, mask)
        covering = _box_sum(ops.ones_like(mask[:1]))
        if self.implementation == "patches":
            weights, patches = self._patch_weights(x, background)
            rebuilt = ops.matmul(weights, patches)
            rebuilt = ops.reshape(rebuilt, (-1, height, width, 9 * channels))
            # Paste: the patch centred at q - o brings its offset-o value to q.
            rebuilt = ops.pad(rebuilt, [[0, 0], [1, 1], [1, 1], [0, 0]])
            pasted = 0.0
            for k, (dy, dx) in enumerate(_OFFSETS):
                pasted = (
                    pasted
                    + rebuilt[
                        :,
                        1 - dy : 1 - dy + height,
                        1 - dx : 1 - dx + width,
                        k * channels : (k + 1) * channels,
                    ]
                )
        else:
            pasted = self._fused_paste(x, mask, background)
        return x * (1.0 - mask) + (pasted / covering) * mask

    def attention_weights(self, inputs):
        """The softmax weights `(B, H*W, H*W)`: row = query position, column = background patch.

        Positions are flattened row-major. Columns of patches that touch the
        hole are exactly 0; a row sums to 1 (0 for an image without
        background patches).
        """
        x, mask = inputs
        x = ops.convert_to_tensor(x, dtype=self.compute_dtype)
        _, background = self._hole_cells(x, mask)
        if self.implementation == "patches":
            return self._patch_weights(x, background)[0]
        x32, norms, background = _float32_inputs(x, background)
        _, height, width, channels = x.shape
        pixels = ops.reshape(x32, (-1, height * width, channels))
        gram = ops.matmul(pixels, ops.transpose(-2.0 * pixels, (0, 2, 1)))
        weights = self._band_weights(gram, 0, norms, background, first_row=0, rows=height)
        return ops.cast(weights, x.dtype)

    def _hole_cells(self, x, mask):
        """The hole at the feature resolution `(B, H, W, 1)` and background patches `(B, 1, N)`."""
        _, height, width, _ = x.shape
        factor = mask.shape[1] // height
        mask = ops.cast(mask, x.dtype)
        if factor > 1:
            mask = ops.max_pool(mask, factor, strides=factor)
        # Max pooling ignores the padding, so a border patch is background when
        # every in-map cell it covers is known.
        touches_hole = ops.max_pool(mask, 3, strides=1, padding="same")
        return mask, ops.reshape(1.0 - touches_hole, (-1, 1, height * width))

    def _patch_weights(self, x, background):
        """The `"patches"` attention weights `(B, N, N)` and the `(B, N, 9C)` patches.

        Distances and the softmax are computed in float32 under a mixed
        precision policy (sums of squares overflow float16), then cast back.
        """
        compute_dtype = x.dtype
        x, _, background = _float32_inputs(x, background)
        _, height, width, channels = x.shape
        positions = height * width
        patches = ops.image.extract_patches(x, 3, strides=1, padding="same")
        patches = ops.reshape(patches, (-1, positions, 9 * channels))
        patch_dot = ops.matmul(patches, ops.transpose(patches, (0, 2, 1)))
        squared_norms = ops.sum(ops.square(patches), axis=-1)
        squared = squared_norms[:, :, None] + squared_norms[:, None, :] - 2.0 * patch_dot
        weights = self._attention(squared, background)
        return ops.cast(weights, compute_dtype), ops.cast(patches, compute_dtype)

    def _fused_paste(self, x, hole, background):
        """The `"fused"` rebuilt and pasted features `(B, H, W, C)`, a band of query rows at a time.

        The score rows of a band of query rows (`_bands`) are all that is
        held of the `(B, N, N)` scores at once. A band's patch dot products
        need the Gram rows of the map rows just above and below it, and its
        pasted rows the weights of those rows (`sum_o a[q - o, j - o]`): both
        are taken from the neighbouring bands, so every Gram row and weight
        row is computed once. Only hole cells take pasted values, so a band
        computes its pasted rows only if it holds a hole cell of some image
        of the batch, its weights only if one is within a row of it and its
        Gram rows only if one is within two rows (zeros stand for the rest,
        which the output never reads). The batch is not split into images:
        a loop over them becomes a `Loop` that onnxruntime cannot run in an
        ONNX export.
        """
        compute_dtype = x.dtype
        x32, norms, background = _float32_inputs(x, background)
        _, height, width, channels = x.shape
        positions = height * width
        pixels = ops.reshape(x32, (-1, positions, channels))
        keys = ops.transpose(-2.0 * pixels, (0, 2, 1))
        bands = _bands(height, width)
        batch = ops.shape(x)[0]
        hole_rows = ops.max(ops.reshape(hole, (-1, height, width)), axis=(0, 2)) > 0

        def hole_near(index, margin):
            first_row, rows = bands[index]
            return ops.any(hole_rows[max(0, first_row - margin) : first_row + rows + margin])

        def scores(index):
            return (batch, bands[index][1] * width, positions)

        def gram(first_row, rows):
            return ops.matmul(pixels[:, first_row * width : (first_row + rows) * width], keys)

        def band_weights(index):
            grid, row_offset = _with_neighbour_rows(grams, index, width)
            weights = self._band_weights(grid, row_offset, norms, background, *bands[index])
            return ops.cast(weights, compute_dtype)

        grams = [
            _if_needed(hole_near(index, 2), lambda band=band: gram(*band), scores(index), "float32")
            for index, band in enumerate(bands)
        ]
        weights = [
            _if_needed(
                hole_near(index, 1), lambda index=index: band_weights(index), scores(index), x.dtype
            )
            for index in range(len(bands))
        ]
        pixels = ops.reshape(x, (-1, positions, channels))

        def band_paste(index):
            rows = bands[index][1]
            grid, row_offset = _with_neighbour_rows(weights, index, width)
            grid = ops.reshape(grid, (-1, grid.shape[1] // width, width, height, width))
            folded = _diagonal_shift_sum(grid, sign=-1, row_offset=row_offset, out_rows=rows)
            folded = ops.reshape(folded, (-1, rows * width, positions))
            return ops.matmul(folded, pixels)

        pasted = [
            _if_needed(
                hole_near(index, 0),
                lambda index=index: band_paste(index),
                (batch, rows * width, channels),
                x.dtype,
            )
            for index, (_, rows) in enumerate(bands)
        ]
        pasted = ops.concatenate(pasted, axis=1) if len(pasted) > 1 else pasted[0]
        return ops.reshape(pasted, (-1, height, width, channels))

    def _band_weights(self, gram, row_offset, norms, background, first_row, rows):
        """Float32 softmax weights `(B, rows * W, N)` of the queries in rows `[first_row, +rows)`.

        `gram` holds the rows `(B, R * W, N)` of `-2 x_i . x_j` (exactly -2
        times the pixels' Gram matrix) for R map rows starting `row_offset`
        rows above `first_row` (0 or 1: the row above, where the band has
        one); `norms` are the squared 3x3 patch norms `(B, H, W, 1)`.
        """
        _, height, width, _ = norms.shape
        positions = height * width
        grid = ops.reshape(gram, (-1, gram.shape[1] // width, width, height, width))
        cross = _diagonal_shift_sum(grid, sign=1, row_offset=row_offset, out_rows=rows)
        cross = ops.reshape(cross, (-1, rows * width, positions))
        row_norms = ops.reshape(norms[:, first_row : first_row + rows], (-1, rows * width, 1))
        column_norms = ops.reshape(norms, (-1, 1, positions))
        return self._attention((cross + row_norms) + column_norms, background)

    def _attention(self, squared, background):
        """Softmax weights `(B, rows, N)` from squared patch distances `(B, rows, N)`.

        Sums over the background patches are products with the `(B, N, 1)`
        background column, which reads the scores once and writes nothing.
        """
        distance = ops.sqrt(ops.maximum(squared, 0.0) + self.epsilon)
        background_column = ops.transpose(background, (0, 2, 1))
        count = ops.maximum(ops.sum(background, axis=-1, keepdims=True), 1.0)
        mean = ops.matmul(distance, background_column) / count
        centered = distance - mean
        variance = ops.matmul(ops.square(centered), background_column)
        std = ops.sqrt(variance / count + self.epsilon)
        similarity = ops.tanh(centered * (-1.0 / std))
        # Masked softmax: hole patches get exactly 0, and an image without any
        # background patch gets all-zero weights instead of NaN. The scores
        # lie in [-scale, scale], so up to `_UNSHIFTED_SCALE` their exponentials
        # and sums stay within float32 without subtracting the row maximum.
        if self.scale <= _UNSHIFTED_SCALE:
            weights = ops.exp(self.scale * similarity) * background
        else:
            logits = ops.where(background > 0, self.scale * similarity, -self.scale)
            logits = logits - ops.max(logits, axis=-1, keepdims=True)
            weights = ops.exp(logits) * background
        return ops.divide_no_nan(weights, ops.sum(weights, axis=-1, keepdims=True))

    # === Config ===
    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(
            {"scale": self.scale, "implementation": self.implementation, "epsilon": self.epsilon}
        )
        return config


_OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))
# Scores per band of query rows: 4 MB of float32, within a CPU core's cache.
_BAND_SCORES = 2**20
# exp(60) times 2**24 positions is below float32's maximum, exp(-60) a normal float32.
_UNSHIFTED_SCALE = 60.0


def _box_sum(x):
    """3x3 sum of a `(B, H, W, 1)` map with zero padding."""
    kernel = ops.ones((3, 3, 1, 1), dtype=x.dtype)
    return ops.conv(x, kernel, strides=1, padding="same")


def _float32_inputs(x, background):
    """`x`, its squared 3x3 patch norms `(B, H, W, 1)` and `background`, all float32."""
    x = ops.cast(x, "float32")
    norms = _box_sum(ops.sum(ops.square(x), axis=-1, keepdims=True))
    return x, norms, ops.cast(background, "float32")


def _bands(height, width):
    """`(first_row, rows)` of bands of query rows with about `_BAND_SCORES` scores each."""
    band_rows = max(1, min(height, _BAND_SCORES // (width * height * width)))
    return [(first, min(band_rows, height - first)) for first in range(0, height, band_rows)]


def _if_needed(needed, compute, shape, dtype):
    """`compute()` where `needed` (a scalar bool tensor), else zeros of `shape` and `dtype`."""
    return ops.cond(needed, compute, lambda: ops.zeros(shape, dtype))


def _with_neighbour_rows(bands, index, width):
    """Band `index`'s rows `(B, rows * W, N)` with the map row above and below it, where there are.

    Returns them and the number of rows above (0 or 1).
    """
    parts, row_offset = [bands[index]], 0
    if index > 0:
        parts.insert(0, bands[index - 1][:, -width:])
        row_offset = 1
    if index + 1 < len(bands):
        parts.append(bands[index + 1][:, :width])
    grid = ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    return grid, row_offset


def _diagonal_shift_sum(grid, sign, row_offset, out_rows):
    """`out[k, x, y', x'] = sum_o grid[k + row_offset + sign * dy, x + sign * dx, y' + sign * dy,
    x' + sign * dx]` over the 3x3 offsets `o = (dy, dx)`, zero outside `grid`.

    `grid` is `(B, R, W, H, W)`: R query rows (a band of the map, whose
    first row is `row_offset` rows before the output's first row) by the
    positions of the `H x W` map. The 3x3 sum is separable: three shifts
    along the rows of both positions, then three along the columns (6
    shifted copies instead of 9). Returns `(B, out_rows, W, H, W)`.
    """
    query_rows, height, width = grid.shape[1], grid.shape[3], grid.shape[4]
    before = max(0, 1 - row_offset)
    after = max(0, out_rows + row_offset + 1 - query_rows)
    padded = ops.pad(grid, [[0, 0], [before, after], [0, 0], [1, 1], [0, 0]])
    starts = [(before + row_offset + sign * offset, 1 + sign * offset) for offset in (-1, 0, 1)]
    rows = [padded[:, query : query + out_rows, :, key : key + height] for query, key in starts]
    padded = ops.pad(rows[0] + rows[1] + rows[2], [[0, 0], [0, 0], [1, 1], [0, 0], [1, 1]])
    starts = [1 + sign * offset for offset in (-1, 0, 1)]
    columns = [padded[:, :, start : start + width, :, start : start + width] for start in starts]
    return columns[0] + columns[1] + columns[2]
