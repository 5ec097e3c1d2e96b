"""`ResidualComposite`: `clip(base + residual)`, the output of residual generators."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_inpaint")
class ResidualComposite(keras.layers.Layer):
    """Add a predicted residual to a base image and clip to the pixel range.

    Takes `[base, residual]` of the same shape and returns
    `clip(base + residual, clip_min, clip_max)`. A generator whose output is
    its hole-filled input plus a residual starts, untrained, at the hole fill
    instead of at noise; used by `ContextEncoderGenerator(residual=True)`.

    Args:
        clip_min: lower bound of the output (the model pixel range is [-1, 1]).
        clip_max: upper bound of the output.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    ```python
    base = np.zeros((1, 8, 8, 3), "float32")
    residual = np.full((1, 8, 8, 3), 2.0, "float32")
    out = keras_inpaint.layers.ResidualComposite()([base, residual])  # all 1.0
    ```
    """

    def __init__(self, clip_min=-1.0, clip_max=1.0, **kwargs):
        super().__init__(**kwargs)
        if clip_min >= clip_max:
            raise ValueError(f"`clip_min` ({clip_min}) must be below `clip_max` ({clip_max}).")
        self.clip_min = float(clip_min)
        self.clip_max = float(clip_max)

    def call(self, inputs):
        base, residual = inputs
        return ops.clip(base + residual, self.clip_min, self.clip_max)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update({"clip_min": self.clip_min, "clip_max": self.clip_max})
        return config
