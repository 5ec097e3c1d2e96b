"""`BroadcastChannels`: repeat a one-channel mask over the channels of its features."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_inpaint")
class BroadcastChannels(keras.layers.Layer):
    """Repeat a `(B, H, W, 1)` tensor to `(B, H, W, channels)`.

    The partial-convolution UNet concatenates skip features with the decoder's
    features, and their valid masks the same way; each part's one-channel mask
    is broadcast to that part's channel count first, so the concatenated mask
    has one channel per feature channel (Liu et al.'s multi-channel masks).

    Args:
        channels: output channel count.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    ```python
    mask = np.ones((2, 8, 8, 1), "float32")
    BroadcastChannels(16)(mask).shape  # (2, 8, 8, 16)
    ```
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
            raise ValueError(f"`channels` must be a positive int; got {channels!r}.")
        self.channels = channels

    def build(self, input_shape):
        if input_shape[-1] != 1:
            raise ValueError(f"BroadcastChannels needs one input channel; got {input_shape}.")

    def call(self, inputs):
        return ops.repeat(inputs, self.channels, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.channels)

    def get_config(self):
        config = super().get_config()
        config.update({"channels": self.channels})
        return config
