"""`ChannelWiseDense`: Pathak et al.'s channel-wise fully connected layer."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_inpaint")
class ChannelWiseDense(keras.layers.Layer):
    """Channel-wise fully connected layer of Context Encoders.

    From Pathak et al., "Context Encoders: Feature Learning by Inpainting"
    (https://arxiv.org/abs/1604.07379), section 3.1: every one of the `m`
    feature maps of an `(n, n, m)` input gets its own dense map from its
    `n * n` positions to `n * n` outputs, and no weight connects two channels.
    This spreads information over the whole spatial extent at `m * n^4`
    weights instead of the `m^2 * n^4` of a plain fully connected layer; a
    following 1x1 convolution mixes the channels. Output shape = input shape
    `(B, H, W, m)`; `H != W` works too (`m * (H * W)^2` weights).

    Implemented as one `einsum`: `out[b, q, c] = sum_p x[b, p, c] * W[c, p, q]
    + bias[q, c]` with `p, q` the flattened positions.

    Args:
        use_bias: add a bias per output unit per channel (`m * H * W` values).
        kernel_initializer: initializer of the `(m, H*W, H*W)` kernel. The
            default `None` is Glorot-uniform per channel (fan-in = fan-out =
            `H*W`); Keras' built-in fan computation would count `m * H * W` and
            start `sqrt(m)` times too small.
        bias_initializer: initializer of the `(H, W, m)` bias.
        kernel_regularizer: optional regularizer of the kernel.
        bias_regularizer: optional regularizer of the bias.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    ```python
    x = np.random.normal(size=(2, 4, 4, 8)).astype("float32")
    layer = keras_inpaint.layers.ChannelWiseDense()
    y = layer(x)  # (2, 4, 4, 8); layer.count_params() == 8 * 4**4 + 8 * 4**2
    ```
    """

    def __init__(
        self,
        use_bias=True,
        kernel_initializer=None,
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.use_bias = use_bias
        self.kernel_initializer = (
            None if kernel_initializer is None else keras.initializers.get(kernel_initializer)
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        _, height, width, channels = input_shape
        if height is None or width is None or channels is None:
            raise ValueError(
                f"ChannelWiseDense needs a static (H, W, C) input shape; got {tuple(input_shape)}."
            )
        positions = height * width
        initializer = self.kernel_initializer
        if initializer is None:
            # Keras' fans for a (m, p, p) shape are m * p each: scale by m to get
            # Glorot-uniform with fan-in = fan-out = p for every channel's map.
            initializer = keras.initializers.VarianceScaling(
                scale=float(channels), mode="fan_avg", distribution="uniform"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(channels, positions, positions),
            initializer=initializer,
            regularizer=self.kernel_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(height, width, channels),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )
        else:
            self.bias = None
        self.feature_shape = (height, width, channels)
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={1: height, 2: width, 3: channels})

    def call(self, inputs):
        height, width, channels = self.feature_shape
        flat = ops.reshape(inputs, (-1, height * width, channels))
        outputs = ops.einsum("bpc,cpq->bqc", flat, self.kernel)
        outputs = ops.reshape(outputs, (-1, height, width, channels))
        if self.bias is not None:
            outputs = outputs + self.bias
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "use_bias": self.use_bias,
                "kernel_initializer": (
                    None
                    if self.kernel_initializer is None
                    else keras.initializers.serialize(self.kernel_initializer)
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            }
        )
        return config
