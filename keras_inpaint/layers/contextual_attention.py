"""`ContextualAttention`: PEPSI's contextual attention module (CAM), without the 1x1 mixing conv."""

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
      multiply-adds than `"patches"`; see `benchmarks/cam_cost.py`.

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
        weights, patches = self._weights(x, background)
        covering = _box_sum(ops.ones_like(mask[:1]))
        if self.implementation == "patches":
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
            # sum_o sum_j a[q - o, j] x[j + o] = (sum_o a shifted by -o on both axes) @ x.
            folded = _diagonal_shift_sum(weights, height, width, sign=-1)
            pixels = ops.reshape(x, (-1, height * width, channels))
            pasted = ops.reshape(ops.matmul(folded, pixels), (-1, height, width, channels))
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
        return self._weights(x, background)[0]

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

    def _weights(self, x, background):
        """Attention weights, and the `(B, N, 9C)` patches for the `"patches"` implementation.

        Distances and the softmax are computed in float32 under a mixed
        precision policy (sums of squares overflow float16), then cast back.
        """
        compute_dtype = x.dtype
        x = ops.cast(x, "float32")
        background = ops.cast(background, "float32")
        _, height, width, channels = x.shape
        positions = height * width
        if self.implementation == "patches":
            patches = ops.image.extract_patches(x, 3, strides=1, padding="same")
            patches = ops.reshape(patches, (-1, positions, 9 * channels))
            patch_dot = ops.matmul(patches, ops.transpose(patches, (0, 2, 1)))
            squared_norms = ops.sum(ops.square(patches), axis=-1)
            weights = self._attention(patch_dot, squared_norms, background)
            return ops.cast(weights, compute_dtype), ops.cast(patches, compute_dtype)
        pixels = ops.reshape(x, (-1, positions, channels))
        gram = ops.matmul(pixels, ops.transpose(pixels, (0, 2, 1)))
        patch_dot = _diagonal_shift_sum(gram, height, width, sign=1)
        squared_norms = ops.reshape(
            _box_sum(ops.sum(ops.square(x), axis=-1, keepdims=True)), (-1, positions)
        )
        return ops.cast(self._attention(patch_dot, squared_norms, background), compute_dtype), None

    def _attention(self, patch_dot, squared_norms, background):
        """Softmax weights `(B, N, N)` from patch dot products and squared patch norms."""
        squared = squared_norms[:, :, None] + squared_norms[:, None, :] - 2.0 * patch_dot
        distance = ops.sqrt(ops.maximum(squared, 0.0) + self.epsilon)
        count = ops.maximum(ops.sum(background, axis=-1, keepdims=True), 1.0)
        mean = ops.sum(distance * background, axis=-1, keepdims=True) / count
        variance = ops.sum(ops.square(distance - mean) * background, axis=-1, keepdims=True)
        std = ops.sqrt(variance / count + self.epsilon)
        logits = self.scale * ops.tanh(-(distance - mean) / std)
        # Masked softmax: hole patches get exactly 0, and an image without any
        # background patch gets all-zero weights instead of NaN.
        logits = ops.where(background > 0, logits, -self.scale)
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


def _box_sum(x):
    """3x3 sum of a `(B, H, W, 1)` map with zero padding."""
    kernel = ops.ones((3, 3, 1, 1), dtype=x.dtype)
    return ops.conv(x, kernel, strides=1, padding="same")


def _diagonal_shift_sum(matrix, height, width, sign):
    """`out[i, j] = sum_o matrix[i + sign * o, j + sign * o]` over the 3x3 offsets `o`.

    `matrix` is `(B, N, N)` over the positions of an `H x W` map; entries
    outside the map are 0. The 3x3 sum is separable: three shifts along the
    rows of both positions, then three along the columns (6 shifted copies
    instead of 9).
    """
    grid = ops.reshape(matrix, (-1, height, width, height, width))
    for row_axes, size in (((1, 3), height), ((2, 4), width)):
        padding = [[1, 1] if axis in row_axes else [0, 0] for axis in range(5)]
        padded = ops.pad(grid, padding)
        total = 0.0
        for offset in (-1, 0, 1):
            start = 1 + sign * offset
            index = [slice(None)] * 5
            for axis in row_axes:
                index[axis] = slice(start, start + size)
            total = total + padded[tuple(index)]
        grid = total
    return ops.reshape(grid, (-1, height * width, height * width))
