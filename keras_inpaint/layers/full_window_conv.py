"""Convolutions whose window spans the whole map, computed as one matrix product.

Context Encoders' DCGAN bottleneck is a 4x4 "valid" convolution of a 4x4 map
to a 1x1 code (4x4x512 -> 4000) and its decoder starts with the transposed
4x4 convolution of that 1x1 code back to 4x4. Both are dense layers in
disguise, but TensorFlow's CPU convolution kernels handle these shapes badly:
`benchmarks/models.py` measured them at 42% and 43% of the whole
`context_encoder/center_128` forward, at under 2 GFLOP/s, while the same
products as `matmul` run about 10x faster. These layers are subclasses of
`keras.layers.Conv2D` / `keras.layers.Conv2DTranspose` with the same
weights, config and outputs (float round-off aside); only the computation of
that one shape differs.

They keep the class names `Conv2D` and `Conv2DTranspose` on purpose: Keras
stores a layer's weights in a `.keras` file under a path made from its class
name (`conv2d`, `conv2d_1`, ...), so with the same names the files saved
before these layers existed load into them unchanged. They are registered as
`keras_inpaint>Conv2D` and `keras_inpaint>Conv2DTranspose` and are not
exported from `keras_inpaint.layers`, so they never shadow Keras' own.

Example:
    >>> import numpy as np
    >>> layer = Conv2D(8, 4, padding="valid")
    >>> layer(np.ones((2, 4, 4, 3), "float32")).shape
    (2, 1, 1, 8)
"""

import math

import keras
from keras import ops


def _is_plain(layer):
    return (
        layer.data_format == "channels_last"
        and layer.padding == "valid"
        and tuple(layer.dilation_rate) == (1, 1)
        and getattr(layer, "groups", 1) == 1
    )


@keras.saving.register_keras_serializable(package="keras_inpaint")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` that runs a window covering its whole input as a matmul.

    When the (static) input side equals the kernel side and the padding is
    `"valid"`, the output is `1x1` and equals `flatten(x) @ reshape(kernel)`;
    any other shape runs the ordinary convolution. Arguments are
    `keras.layers.Conv2D`'s.

    Example:
    ```python
    layer = Conv2D(4000, 4, padding="valid")
    code = layer(np.ones((2, 4, 4, 512), "float32"))  # (2, 1, 1, 4000), one matmul
    ```
    """

    def convolution_op(self, inputs, kernel):
        if not (_is_plain(self) and tuple(inputs.shape[1:3]) == tuple(self.kernel_size)):
            return super().convolution_op(inputs, kernel)
        window = math.prod(kernel.shape[:3])
        outputs = ops.matmul(ops.reshape(inputs, (-1, window)), ops.reshape(kernel, (window, -1)))
        return ops.reshape(outputs, (-1, 1, 1, self.filters))


@keras.saving.register_keras_serializable(package="keras_inpaint")
class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` that runs a `1x1` input as a matmul.

    With a `1x1` input, `"valid"` padding and no output padding, the output
    is `kernel_h x kernel_w` and `out[b, i, j, c] = sum_k x[b, k] *
    kernel[i, j, c, k]`; any other shape runs the ordinary transposed
    convolution. Arguments are `keras.layers.Conv2DTranspose`'s.

    Example:
    ```python
    layer = Conv2DTranspose(512, 4, padding="valid")
    features = layer(np.ones((2, 1, 1, 4000), "float32"))  # (2, 4, 4, 512), one matmul
    ```
    """

    def call(self, inputs):
        if not (
            _is_plain(self) and self.output_padding is None and tuple(inputs.shape[1:3]) == (1, 1)
        ):
            return super().call(inputs)
        kernel_h, kernel_w = self.kernel_size
        channels = inputs.shape[-1]
        kernel = ops.reshape(self.kernel, (kernel_h * kernel_w * self.filters, channels))
        # (K x C) @ (C x B), then transposed: the large kernel is the left, untransposed
        # operand, which TensorFlow's CPU matmul runs about 2x faster than x @ kernel^T.
        outputs = ops.transpose(
            ops.matmul(kernel, ops.transpose(ops.reshape(inputs, (-1, channels))))
        )
        outputs = ops.reshape(outputs, (-1, kernel_h, kernel_w, self.filters))
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        if self.activation is not None:
            return self.activation(outputs)
        return outputs
