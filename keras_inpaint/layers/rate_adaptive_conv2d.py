"""`RateAdaptiveConv2D`: Diet-PEPSI's rate-adaptive dilated convolution (one kernel, many rates)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_inpaint")
class RateAdaptiveConv2D(keras.layers.Layer):
    """Dilated convolutions at several rates sharing one kernel, each with its own scale and shift.

    Diet-PEPSI (Shin et al., "PEPSI++: Fast and Lightweight Network for Image
    Inpainting", https://arxiv.org/abs/1905.09010) replaces the stack of
    dilated convolutions of PEPSI's encoder by one shared weight tensor `W`
    adapted to each dilation rate `r` by a learned per-channel scale
    `gamma_r` and shift `beta_r`:

        y_r = gamma_r * conv(x, W, dilation=r) + beta_r

    Scaling the output channels of a convolution is scaling its kernel's
    output channels (`conv(x, gamma * W) = gamma * conv(x, W)`), so this is a
    convolution with the rate-adapted kernel `gamma_r * W` and bias `beta_r`,
    computed with one convolution. `beta_r` is the rate's bias: there is no
    other. Weights: `k * k * C_in * filters` shared, plus `2 * filters` per
    rate (`gamma` starts at 1, `beta` at 0).

    The layer is called once per rate, in the order you choose, with
    `rate_index` selecting the rate; every call uses the same `W`:

        x = layer(x, rate_index=0)  # rate dilation_rates[0]
        x = elu(x)
        x = layer(x, rate_index=1)  # same kernel, rate dilation_rates[1]

    The input must have `filters` channels from the second call on (the
    kernel is built for the first call's channels).

    Args:
        filters: output channels.
        dilation_rates: the rates, one scale/shift pair each (PEPSI:
            `[2, 4, 8, 16]`).
        kernel_size: side of the square kernel.
        kernel_initializer: initializer of the shared kernel.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    ```python
    layer = keras_inpaint.layers.RateAdaptiveConv2D(16, dilation_rates=[2, 4])
    x = np.random.normal(size=(1, 16, 16, 16)).astype("float32")
    y = layer(layer(x, rate_index=0), rate_index=1)  # (1, 16, 16, 16)
    layer.count_params()  # 3 * 3 * 16 * 16 + 2 * 2 * 16 = 2368
    ```
    """

    def __init__(
        self,
        filters,
        dilation_rates=(2, 4, 8, 16),
        kernel_size=3,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        dilation_rates = [int(rate) for rate in dilation_rates]
        if not dilation_rates or min(dilation_rates) < 1:
            raise ValueError(
                f"`dilation_rates` must be a non-empty list of rates >= 1; got {dilation_rates}."
            )
        self.filters = int(filters)
        self.dilation_rates = dilation_rates
        self.kernel_size = int(kernel_size)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[-1]
        size = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel",
            shape=(size, size, channels, self.filters),
            initializer=self.kernel_initializer,
        )
        rates = len(self.dilation_rates)
        self.scale = self.add_weight(name="scale", shape=(rates, self.filters), initializer="ones")
        self.shift = self.add_weight(name="shift", shape=(rates, self.filters), initializer="zeros")

    def call(self, inputs, rate_index=0):
        if not 0 <= rate_index < len(self.dilation_rates):
            raise ValueError(
                f"`rate_index` must be in [0, {len(self.dilation_rates) - 1}]; got {rate_index}."
            )
        outputs = ops.conv(
            inputs,
            self.kernel,
            strides=1,
            padding="same",
            dilation_rate=self.dilation_rates[rate_index],
        )
        return outputs * self.scale[rate_index] + self.shift[rate_index]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "dilation_rates": list(self.dilation_rates),
                "kernel_size": self.kernel_size,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
