"""`HoleFill`: replace the hole of an image by a constant, the known-pixel mean or push-pull."""

import keras
from keras import ops

from keras_inpaint.layers.push_pull import push_pull_fill

_MODES = ("constant", "known_mean", "push_pull")


@keras.saving.register_keras_serializable(package="keras_inpaint")
class HoleFill(keras.layers.Layer):
    """Fill the hole of an image with a constant, its known-pixel mean or push-pull.

    Takes `[image, mask]` (image `(B, H, W, C)` in [-1, 1], mask `(B, H, W, 1)`
    with 1 = hole) and returns `image * (1 - mask) + fill * mask`: known pixels
    are passed through unchanged. Context Encoders
    (https://arxiv.org/abs/1604.07379) fill the hole with the ImageNet mean
    colour; GLCIC with the dataset mean pixel. `"push_pull"` is the pyramid fill
    of `keras_inpaint.layers.push_pull` (the classical bar on real photos), the
    pre-fill of the presets' residual generators.

    Args:
        mode: `"constant"` fills with `value`; `"known_mean"` fills each image
            with the per-channel mean of its known pixels (0 for an image with
            no known pixel); `"push_pull"` fills by `push_pull_fill`.
        value: the constant for `mode="constant"`: a float, or a list with one
            value per channel, each in [-1, 1]. Pathak et al.'s code fills with
            `[2 * 117 / 255 - 1, 2 * 104 / 255 - 1, 2 * 123 / 255 - 1]`.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    ```python
    image = np.random.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    mask = np.zeros((2, 32, 32, 1), "float32")
    mask[:, 8:24, 8:24] = 1.0
    filled = keras_inpaint.layers.HoleFill(mode="known_mean")([image, mask])
    ```
    """

    def __init__(self, mode="constant", value=0.0, **kwargs):
        super().__init__(**kwargs)
        if mode not in _MODES:
            raise ValueError(f"`mode` must be one of {_MODES}; got {mode!r}.")
        if isinstance(value, (list, tuple)):
            value = [float(v) for v in value]
            values = value
        else:
            value = float(value)
            values = [value]
        if not values or any(not -1.0 <= v <= 1.0 for v in values):
            raise ValueError(
                "`value` must be a float or a non-empty list of floats in [-1, 1] "
                f"(model pixel range); got {value!r}."
            )
        self.mode = mode
        self.value = value

    def build(self, input_shape):
        image_shape, _ = input_shape
        channels = image_shape[-1]
        if (
            self.mode == "constant"
            and isinstance(self.value, list)
            and len(self.value) != 1
            and channels is not None
            and len(self.value) != channels
        ):
            raise ValueError(
                f"`value` has {len(self.value)} entries but the image has {channels} channels."
            )

    def call(self, inputs):
        image, mask = inputs
        mask = ops.cast(mask, image.dtype)
        known = 1.0 - mask
        if self.mode == "push_pull":
            return ops.cast(push_pull_fill(image, mask), image.dtype)
        if self.mode == "constant":
            fill = ops.convert_to_tensor(self.value, dtype=image.dtype)
        else:
            total = ops.sum(image * known, axis=(1, 2), keepdims=True)
            count = ops.sum(known, axis=(1, 2), keepdims=True)
            # An all-hole image has count 0: divide_no_nan gives 0, not NaN.
            fill = ops.divide_no_nan(total, count)
        return image * known + fill * mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "value": self.value})
        return config
