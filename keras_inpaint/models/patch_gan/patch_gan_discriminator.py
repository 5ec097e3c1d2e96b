"""`PatchGANDiscriminator`: the pix2pix 70x70 PatchGAN."""

import keras

_OUTPUT_ACTIVATIONS = ("sigmoid", None)


def apply_patch_conv_block(x, filters, strides, batch_norm, batch_norm_momentum, name):
    """4x4 conv -> optional BatchNorm -> LeakyReLU 0.2."""
    padding = "same" if strides == 2 else "valid"
    x = keras.layers.Conv2D(filters, 4, strides=strides, padding=padding, name=f"{name}_conv")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_bn")(x)
    return keras.layers.LeakyReLU(negative_slope=0.2, name=f"{name}_lrelu")(x)


def patch_gan_receptive_field(num_layers):
    """Side of the input window that one output cell sees (70 for `num_layers=3`)."""
    # Back from one output cell: two 4x4 stride-1 convs, then 4x4 stride-2 convs,
    # each with K_in = k + s * (K_out - 1).
    field = 1
    for _ in range(2):
        field = 4 + 1 * (field - 1)
    for _ in range(num_layers):
        field = 4 + 2 * (field - 1)
    return field


@keras.saving.register_keras_serializable(package="keras_inpaint")
class PatchGANDiscriminator(keras.Model):
    """PatchGAN discriminator: one real/fake score per overlapping image patch.

    Isola et al., "Image-to-Image Translation with Conditional Adversarial
    Networks" (pix2pix, https://arxiv.org/abs/1611.07004), `n_layers=3`, as
    used with a Context Encoder in seed 002: `num_layers` 4x4 stride-2 convs
    with `filters * min(2^i, 8)` channels (64, 128, 256; no norm on the first,
    BN momentum 0.8 on the others, LeakyReLU 0.2), ZeroPadding2D(1), a 4x4
    valid conv with `filters * min(2^num_layers, 8)` channels (512; BN,
    LeakyReLU), ZeroPadding2D(1), a 4x4 valid conv to 1 channel, sigmoid.
    A 128x128 input gives 64 -> 32 -> 16 -> pad 18 -> 15 -> pad 17 -> 14x14x1
    scores; a 256x256 input 30x30x1.

    Receptive field of one output cell, back from the output with
    `K_in = k + s * (K_out - 1)` (k = 4 everywhere):
    last conv (s 1): 4 + 1 * (1 - 1) = 4; 512 conv (s 1): 4 + 1 * (4 - 1) = 7;
    256 conv (s 2): 4 + 2 * (7 - 1) = 16; 128 conv (s 2): 4 + 2 * (16 - 1) = 34;
    64 conv (s 2): 4 + 2 * (34 - 1) = 70. So each score judges a 70x70 patch;
    output cell `i` sees input rows `8i - 23 .. 8i + 46` (clipped at the
    border, where the zero padding stands in). `receptive_field` gives the
    number for any `num_layers`.

    Output `(B, H', W', 1)`: probabilities (sigmoid, BCE as in seed 002) by
    default, raw scores with `output_activation=None` (hinge losses).

    Args:
        image_size: input side, or `None` for any size (>= 17 with the default
            3 layers: the output must keep at least one cell).
        filters: channels of the first conv.
        num_layers: number of stride-2 convs (3 = the 70x70 PatchGAN).
        input_channels: channels of the input image.
        batch_norm_momentum: BatchNormalization momentum (seed 002: 0.8).
        output_activation: `"sigmoid"` or `None`.
        **kwargs: `name`, `trainable`.

    Example:
    ```python
    discriminator = PatchGANDiscriminator(image_size=None, filters=8)
    scores = discriminator(np.zeros((2, 64, 64, 3), "float32"))  # (2, 6, 6, 1)
    discriminator.receptive_field  # 70
    ```
    """

    def __init__(
        self,
        image_size=128,
        filters=64,
        num_layers=3,
        input_channels=3,
        batch_norm_momentum=0.8,
        output_activation="sigmoid",
        **kwargs,
    ):
        if num_layers < 1:
            raise ValueError(f"`num_layers` must be >= 1; got {num_layers}.")
        if output_activation not in _OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"`output_activation` must be one of {_OUTPUT_ACTIVATIONS}; got "
                f"{output_activation!r}."
            )
        if image_size is not None:
            size = image_size
            for _ in range(num_layers):
                size = -(-size // 2)
            if size - 2 < 1:
                raise ValueError(
                    f"PatchGANDiscriminator with num_layers={num_layers} needs image_size >= "
                    f"{2 ** (num_layers + 1) + 1} to keep one output cell; got {image_size}."
                )

        # === Layers ===
        pad_1 = keras.layers.ZeroPadding2D(1, name="pad1")
        pad_2 = keras.layers.ZeroPadding2D(1, name="pad2")
        output_conv = keras.layers.Conv2D(1, 4, padding="valid", name="output_conv")

        # === Functional Model ===
        image = keras.Input(shape=(image_size, image_size, input_channels), name="image")
        x = image
        for i in range(num_layers):
            x = apply_patch_conv_block(
                x,
                filters * min(2**i, 8),
                strides=2,
                batch_norm=i > 0,
                batch_norm_momentum=batch_norm_momentum,
                name=f"block{i + 1}",
            )
        x = pad_1(x)
        x = apply_patch_conv_block(
            x,
            filters * min(2**num_layers, 8),
            strides=1,
            batch_norm=True,
            batch_norm_momentum=batch_norm_momentum,
            name=f"block{num_layers + 1}",
        )
        x = output_conv(pad_2(x))
        if output_activation is not None:
            x = keras.layers.Activation(output_activation, name=f"output_{output_activation}")(x)
        kwargs.setdefault("name", "patch_gan_discriminator")
        super().__init__(inputs=image, outputs=x, **kwargs)

        # === Config ===
        self.image_size = image_size
        self.filters = filters
        self.num_layers = num_layers
        self.input_channels = input_channels
        self.batch_norm_momentum = batch_norm_momentum
        self.output_activation = output_activation

    @property
    def receptive_field(self):
        """Side of the square input window seen by one output cell."""
        return patch_gan_receptive_field(self.num_layers)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_size": self.image_size,
            "filters": self.filters,
            "num_layers": self.num_layers,
            "input_channels": self.input_channels,
            "batch_norm_momentum": self.batch_norm_momentum,
            "output_activation": self.output_activation,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
