"""`HoleCenteredCrop`: the local discriminator's input, a patch centred on each sample's hole."""

import keras
from keras import ops


def hole_centered_offsets(mask, size):
    """Top-left corner of a `size x size` patch centred on each mask's hole bounding box.

    The bounding box of the hole pixels (`mask > 0.5`) of each sample is
    centred in the patch (rounding the corner down when the two margins cannot
    be equal), then the corner is clamped so that the patch lies inside the
    image. A patch at least as large as the box therefore contains the whole
    hole; a sample without a hole gets the central patch.

    Args:
        mask: `(B, H, W, 1)`, 1 = hole.
        size: patch side in pixels, at most `min(H, W)`.

    Returns:
        `(top, left)`, two int32 tensors of shape `(B,)`.
    """

    def offsets(hole_lines, length):
        index = ops.arange(length, dtype="int32")
        first = ops.min(ops.where(hole_lines, index, length), axis=1)
        last = ops.max(ops.where(hole_lines, index, -1), axis=1)
        # Box [first, last] has centre (first + last + 1) / 2 in pixel-edge units, so the
        # centred patch starts at (first + last + 1 - size) / 2.
        start = ops.floor_divide(first + last + 1 - size, 2)
        start = ops.where(last >= 0, start, (length - size) // 2)
        return ops.clip(start, 0, length - size)

    hole = mask[..., 0] > 0.5
    top = offsets(ops.any(hole, axis=2), mask.shape[1])
    left = offsets(ops.any(hole, axis=1), mask.shape[2])
    return top, left


def crop_patches(image, top, left, size):
    """Crop `image[b, top[b]:top[b]+size, left[b]:left[b]+size]` for every sample.

    A gather of whole rows then whole columns: the patch holds the exact
    pixels (no resampling) and gradients flow back to them.
    """
    steps = ops.arange(size, dtype="int32")
    rows = ops.expand_dims(top, 1) + steps
    cols = ops.expand_dims(left, 1) + steps
    patch = ops.take_along_axis(image, rows[:, :, None, None], axis=1)
    return ops.take_along_axis(patch, cols[:, None, :, None], axis=2)


@keras.saving.register_keras_serializable(package="keras_inpaint")
class HoleCenteredCrop(keras.layers.Layer):
    """Crop a `size x size` patch centred on each sample's hole, clamped inside the image.

    GLCIC's local context discriminator (Iizuka et al. 2017,
    https://doi.org/10.1145/3072959.3073659) looks at "a small area centered
    at the completed region". Takes `[image, mask]` (`(B, H, W, C)`,
    `(B, H, W, 1)` with 1 = hole) and returns `(B, size, size, C)`: the exact
    pixels of the patch whose centre is the centre of the hole's bounding box
    (see `hole_centered_offsets`), computed in the graph for every sample. A
    hole whose box fits in the patch is always inside it; a larger one is cut
    to the patch around its centre. To crop a given box (a random patch of a
    real image), pass a mask whose hole is that box.

    Args:
        size: patch side in pixels.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    ```python
    image = np.random.uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    mask = np.zeros((2, 64, 64, 1), "float32")
    mask[0, 4:20, 40:60] = 1.0
    patch = HoleCenteredCrop(32)([image, mask])  # (2, 32, 32, 3); patch[0] = image[0, 0:32, 32:64]
    ```
    """

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        if int(size) < 1:
            raise ValueError(f"`size` must be a positive number of pixels; got {size!r}.")
        self.size = int(size)

    def build(self, input_shape):
        image_shape, mask_shape = input_shape
        height, width = image_shape[1], image_shape[2]
        if height is None or width is None:
            raise ValueError("HoleCenteredCrop needs a static image height and width.")
        if self.size > min(height, width):
            raise ValueError(
                f"the patch ({self.size}x{self.size}) is larger than the image ({height}x{width})."
            )
        if tuple(mask_shape[1:3]) != (height, width):
            raise ValueError(
                f"the mask is {mask_shape[2]}x{mask_shape[1]} but the image {width}x{height} "
                "(width x height)."
            )

    def call(self, inputs):
        image, mask = inputs
        top, left = hole_centered_offsets(mask, self.size)
        return crop_patches(image, top, left, self.size)

    def compute_output_shape(self, input_shape):
        image_shape = input_shape[0]
        return (image_shape[0], self.size, self.size, image_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size})
        return config
