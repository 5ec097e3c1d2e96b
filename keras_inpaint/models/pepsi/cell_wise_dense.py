"""`CellWiseDense`: RED's separate one-output dense layer for every cell of a feature map."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_inpaint")
class CellWiseDense(keras.layers.Layer):
    """A separate `C -> units` dense layer at every spatial cell (no weight shared between cells).

    The head of PEPSI's region ensemble discriminator (Sagong et al.,
    https://arxiv.org/abs/1901.03396, section 3.3): each cell of the last
    `(H, W, C)` feature map has its own fully connected layer, so each cell
    judges its own region of the image with its own weights. It is a locally
    connected 1x1 convolution: `out[b, h, w, u] = sum_c x[b, h, w, c] *
    W[h, w, c, u] + bias[h, w, u]`, `H * W * (C + 1) * units` weights.

    Args:
        units: outputs per cell (RED: 1).
        kernel_initializer: initializer of the `(H, W, C, units)` kernel. The
            default `None` is Glorot-uniform per cell (fan-in `C`, fan-out
            `units`); Keras' own fans for this shape would count `H * W`
            times more and start `sqrt(H * W)` times too small.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    ```python
    layer = CellWiseDense()
    scores = layer(np.zeros((2, 4, 4, 512), "float32"))  # (2, 4, 4, 1)
    layer.count_params()  # 4 * 4 * (512 + 1) = 8208
    ```
    """

    def __init__(self, units=1, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.kernel_initializer = (
            None if kernel_initializer is None else keras.initializers.get(kernel_initializer)
        )
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        _, height, width, channels = input_shape
        if None in (height, width, channels):
            raise ValueError(
                f"CellWiseDense needs a static (H, W, C) input shape; got {tuple(input_shape)}."
            )
        initializer = self.kernel_initializer
        if initializer is None:
            # Keras' fans for (H, W, C, units) are H * W * C and H * W * units:
            # scale by H * W to get each cell's Glorot-uniform.
            initializer = keras.initializers.VarianceScaling(
                scale=float(height * width), mode="fan_avg", distribution="uniform"
            )
        self.kernel = self.add_weight(
            name="kernel", shape=(height, width, channels, self.units), initializer=initializer
        )
        self.bias = self.add_weight(
            name="bias", shape=(height, width, self.units), initializer="zeros"
        )

    def call(self, inputs):
        return ops.einsum("bhwc,hwcu->bhwu", inputs, self.kernel) + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "kernel_initializer": (
                    None
                    if self.kernel_initializer is None
                    else keras.initializers.serialize(self.kernel_initializer)
                ),
            }
        )
        return config
