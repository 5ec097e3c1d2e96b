"""`PartialConv2D`: Liu et al.'s partial convolution with its mask update."""

import keras
from keras import ops

_PADDINGS = ("same", "valid")


def _pair(value, name):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v >= 1 for v in value):
        raise ValueError(f"`{name}` must be a positive int or a pair of them; got {value!r}.")
    return value


def _output_length(length, kernel, stride, dilation, padding):
    if length is None:
        return None
    if padding == "same":
        return -(-length // stride)
    effective = dilation * (kernel - 1) + 1
    return max(0, (length - effective) // stride + 1)


@keras.saving.register_keras_serializable(package="keras_inpaint")
class PartialConv2D(keras.layers.Layer):
    """2D partial convolution: a convolution of the valid pixels only, renormalised.

    Liu et al., "Image Inpainting for Irregular Holes Using Partial
    Convolutions", ECCV 2018 (https://arxiv.org/abs/1804.07723). For each
    output position, with `X` the features and `M` the **valid** mask (1 =
    known pixel, 0 = hole; the project's hole masks convert with
    `valid = 1 - mask`) in the sliding window:

        out  = W^T (X * M) * sum(1) / sum(M) + b    where sum(M) > 0
        out  = 0                                    where sum(M) = 0
        mask = 1 where sum(M) > 0, else 0

    `sum(M)` adds the mask over the window's `kernel_h * kernel_w` positions
    and over the mask's channels, and `sum(1) = kernel_h * kernel_w *
    mask_channels` is that sum for an all-valid window. So a window with one
    valid pixel (one valid channel of a multi-channel mask, or the single
    channel of a one-channel mask) has its convolution multiplied by exactly
    `kernel_h * kernel_w * mask_channels`. The mask sum is a convolution with a
    constant kernel of ones created in `call`: it is not a weight and is never
    trained (`trainable_weights` is `[kernel, bias]`).

    Inputs `[features, valid_mask]`: features `(B, H, W, C)`; the valid mask
    `(B, H, W, 1)` (shared by all channels) or `(B, H, W, C)` (one mask per
    channel, as after concatenating skip connections), values in {0, 1}.
    Outputs `[output, updated_mask]`: `(B, H', W', filters)` and the updated
    valid mask `(B, H', W', 1)`; every output channel sees the same window, so
    one mask channel describes them all. Where the window holds no valid
    pixel the output is exactly 0 (bias included), with no NaN or Inf.

    Padding: `"same"` and `"valid"` give Keras's `Conv2D` output sizes and
    alignment. With `"same"`, the pixels added beyond the border are holes
    (the mask is zero-padded) while `sum(1)` stays the full window size, so a
    border window of an all-valid image is scaled up by `window size / pixels
    inside the image`, as in the paper's reference implementation: the
    renormalisation treats the padding like any other hole.

    The mask arithmetic runs in float32 whatever the layer's dtype policy, so
    window counts stay exact under mixed precision.

    Args:
        filters: output channels.
        kernel_size: int or `(kernel_h, kernel_w)`.
        strides: int or pair. Strides > 1 cannot be combined with
            `dilation_rate` > 1 (as in `keras.layers.Conv2D`).
        padding: `"same"` or `"valid"`.
        dilation_rate: int or pair.
        use_bias: add the bias `b` where the window has a valid pixel.
        kernel_initializer: initializer of `W`.
        bias_initializer: initializer of `b`.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    ```python
    image = np.random.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    hole = np.zeros((2, 32, 32, 1), "float32")
    hole[:, 8:24, 8:24] = 1.0
    layer = keras_inpaint.layers.partial_conv2d.PartialConv2D(16, 3, strides=2)
    features, valid = layer([image * (1 - hole), 1.0 - hole])  # (2, 16, 16, 16), (2, 16, 16, 1)
    ```
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        dilation_rate=1,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
            raise ValueError(f"`filters` must be a positive int; got {filters!r}.")
        padding = str(padding).lower()
        if padding not in _PADDINGS:
            raise ValueError(f"`padding` must be one of {_PADDINGS}; got {padding!r}.")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides` > 1 cannot be combined with `dilation_rate` > 1; got "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}."
            )
        self.padding = padding
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        feature_shape, mask_shape = input_shape
        channels = feature_shape[-1]
        mask_channels = mask_shape[-1]
        if channels is None:
            raise ValueError("PartialConv2D needs the features' channel count to be known.")
        if mask_channels not in (1, channels):
            raise ValueError(
                f"the valid mask has {mask_channels} channels; expected 1 (shared by all "
                f"channels) or {channels} (one per feature channel)."
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer
            )

    def _window_sum(self, values):
        ones = ops.ones((*self.kernel_size, 1, 1), dtype=values.dtype)
        return ops.conv(
            values,
            ones,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
        )

    def call(self, inputs):
        features, valid = inputs
        mask_channels = valid.shape[-1]
        valid = ops.cast(valid, "float32")
        # Summing the channels first makes the window sum a one-channel convolution.
        valid_count = self._window_sum(ops.sum(valid, axis=-1, keepdims=True))
        updated = ops.cast(valid_count > 0.0, "float32")
        window = float(self.kernel_size[0] * self.kernel_size[1] * mask_channels)
        # divide_no_nan gives 0 for windows without a valid pixel: no Inf, no NaN.
        scale = ops.divide_no_nan(ops.full_like(valid_count, window), valid_count)
        masked = features * ops.cast(valid, features.dtype)
        outputs = ops.conv(
            masked,
            self.kernel,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
        )
        outputs = outputs * ops.cast(scale, outputs.dtype)
        if self.use_bias:
            outputs = outputs + self.bias
        updated = ops.cast(updated, outputs.dtype)
        return [outputs * updated, updated]

    def compute_output_shape(self, input_shape):
        feature_shape, _ = input_shape
        batch, height, width = feature_shape[:3]
        height = _output_length(
            height, self.kernel_size[0], self.strides[0], self.dilation_rate[0], self.padding
        )
        width = _output_length(
            width, self.kernel_size[1], self.strides[1], self.dilation_rate[1], self.padding
        )
        return [(batch, height, width, self.filters), (batch, height, width, 1)]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": list(self.kernel_size),
                "strides": list(self.strides),
                "padding": self.padding,
                "dilation_rate": list(self.dilation_rate),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
