"""`DCGANDiscriminator`: the Context Encoders / DCGAN discriminator."""

import keras

from keras_inpaint.models.context_encoder.context_encoder_generator import apply_conv_block

_OUTPUT_ACTIVATIONS = ("sigmoid", None)


@keras.saving.register_keras_serializable(package="keras_inpaint")
class DCGANDiscriminator(keras.Model):
    """DCGAN discriminator: 4x4 stride-2 convs down to 4x4, one score per image.

    The adversarial network of Pathak et al.'s Context Encoders
    (https://arxiv.org/abs/1604.07379), after DCGAN (Radford et al.,
    https://arxiv.org/abs/1511.06434): 4x4 stride-2 convs (BN on all but the
    first, LeakyReLU 0.2) from `image_size` down to 4x4, then a 4x4 valid conv
    to one unit. Use `image_size=64` on the 64x64 region predicted by the
    center-variant generator, `image_size=128` on a full image (one more conv,
    as Pathak's `train_random.lua`).

    Output `(B, 1)`: a probability (sigmoid, for BCE) by default, or a raw
    score with `output_activation=None` (hinge or `from_logits` losses).

    Args:
        image_size: input side; must be 4 * 2^n (n >= 1).
        filters: one value per stride-2 conv, `log2(image_size / 4)` of them;
            default `max(64, 512 / 2^j)` counting back from the last:
            `[64, 128, 256, 512]` at 64, `[64, 64, 128, 256, 512]` at 128.
        input_channels: channels of the input image.
        batch_norm_momentum: BatchNormalization momentum (0.9 = Torch's 0.1).
        output_activation: `"sigmoid"` or `None`.
        **kwargs: `name`, `trainable`.

    Example:
    ```python
    discriminator = DCGANDiscriminator(image_size=16, filters=[8, 16])
    scores = discriminator(np.zeros((2, 16, 16, 3), "float32"))  # (2, 1) in (0, 1)
    ```
    """

    def __init__(
        self,
        image_size=64,
        filters=None,
        input_channels=3,
        batch_norm_momentum=0.9,
        output_activation="sigmoid",
        **kwargs,
    ):
        num_down = 0
        size = image_size
        while size > 4 and size % 2 == 0:
            size //= 2
            num_down += 1
        if size != 4 or num_down < 1:
            raise ValueError(
                "DCGANDiscriminator halves the image with 4x4 stride-2 convs down to 4x4, so "
                f"`image_size` must be 4 * 2^n with n >= 1 (8, 16, 32, 64, 128, ...); got "
                f"{image_size}."
            )
        if filters is None:
            filters = [max(64, 512 >> j) for j in range(num_down)][::-1]
        filters = [int(f) for f in filters]
        if len(filters) != num_down:
            raise ValueError(
                f"DCGANDiscriminator with image_size={image_size} needs {num_down} filters "
                f"(one stride-2 conv per halving {image_size} -> 4); got {len(filters)}, "
                f"which fits image_size={4 * 2 ** len(filters)}."
            )
        if output_activation not in _OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"`output_activation` must be one of {_OUTPUT_ACTIVATIONS}; got "
                f"{output_activation!r}."
            )

        # === Layers ===
        output_conv = keras.layers.Conv2D(1, 4, padding="valid", name="output_conv")
        flatten = keras.layers.Flatten(name="output_flatten")

        # === Functional Model ===
        image = keras.Input(shape=(image_size, image_size, input_channels), name="image")
        x = image
        for i, width in enumerate(filters):
            x = apply_conv_block(
                x,
                width,
                4,
                2,
                "same",
                batch_norm=i > 0,
                activation="leaky_relu",
                batch_norm_momentum=batch_norm_momentum,
                name=f"block{i + 1}",
            )
        x = flatten(output_conv(x))
        if output_activation is not None:
            x = keras.layers.Activation(output_activation, name=f"output_{output_activation}")(x)
        kwargs.setdefault("name", "dcgan_discriminator")
        super().__init__(inputs=image, outputs=x, **kwargs)

        # === Config ===
        self.image_size = image_size
        self.filters = tuple(filters)
        self.input_channels = input_channels
        self.batch_norm_momentum = batch_norm_momentum
        self.output_activation = output_activation

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_size": self.image_size,
            "filters": list(self.filters),
            "input_channels": self.input_channels,
            "batch_norm_momentum": self.batch_norm_momentum,
            "output_activation": self.output_activation,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
