"""`GLCICDiscriminator`: GLCIC's global and local context discriminators, concatenated."""

import keras

from keras_inpaint.models.glcic.glcic_generator import apply_conv_block
from keras_inpaint.models.glcic.hole_centered_crop import HoleCenteredCrop
from keras_inpaint.models.submodules import trainable_params_by_prefix

_OUTPUT_ACTIVATIONS = ("sigmoid", None)
_PARTS = ("global", "local", "head")


@keras.saving.register_keras_serializable(package="keras_inpaint")
class GLCICDiscriminator(keras.Model):
    """Global + local context discriminator: two conv branches, one real/fake score.

    Iizuka, Simo-Serra, Ishikawa, "Globally and Locally Consistent Image
    Completion", SIGGRAPH 2017 (https://doi.org/10.1145/3072959.3073659),
    table 2. Inputs `image (B, S, S, 3)` and `mask (B, S, S, 1)`; the mask
    only says where the local patch is, it is not an input channel.

    - global branch: the whole image through six 5x5 stride-2 convs
      (64-128-256-512-512-512), then a fully connected layer to 1024;
    - local branch: the `local_size` patch centred on the mask's hole
      (`HoleCenteredCrop`, computed in the graph for each sample) through
      five 5x5 stride-2 convs (64-128-256-512-512), then FC 1024;
    - head: the two 1024-d vectors concatenated (2048) -> FC 1 -> sigmoid.

    Convolutions have BatchNorm + ReLU (the paper: after every layer but the
    last); the two FC 1024 layers have ReLU, so that the head sees
    non-linear features of each branch. A real image is judged with a mask
    whose hole is the patch wanted (a random box of the local size, see
    `GLCICInpainter`).

    Output `(B, 1)`: the probability that the image is real (sigmoid, for
    GLCIC's binary cross-entropy) or a raw score with
    `output_activation=None`.

    Args:
        image_size: side S of the image (paper 256, seed 003 160).
        local_size: side of the local patch (paper 128, seed 003 80).
        global_filters: one width per stride-2 conv of the global branch.
        local_filters: one width per stride-2 conv of the local branch.
        fc_units: width of each branch's fully connected layer (1024).
        kernel_size: side of the convolution kernels (5).
        batch_norm_momentum: BatchNormalization momentum (0.9 = Torch's 0.1).
        output_activation: `"sigmoid"` or `None`.
        **kwargs: `name`, `trainable`.

    Example:
    ```python
    discriminator = GLCICDiscriminator(
        image_size=32, local_size=16, global_filters=[8, 16, 16], local_filters=[8, 16],
        fc_units=32)
    image = np.zeros((2, 32, 32, 3), "float32")
    mask = np.zeros((2, 32, 32, 1), "float32")
    mask[:, 4:12, 20:30] = 1.0
    scores = discriminator([image, mask])  # (2, 1) in (0, 1)
    discriminator.submodule_params()  # {"global": ..., "local": ..., "head": 65}
    ```
    """

    def __init__(
        self,
        image_size=256,
        local_size=128,
        global_filters=(64, 128, 256, 512, 512, 512),
        local_filters=(64, 128, 256, 512, 512),
        fc_units=1024,
        kernel_size=5,
        batch_norm_momentum=0.9,
        output_activation="sigmoid",
        **kwargs,
    ):
        if not 1 <= local_size <= image_size:
            raise ValueError(
                f"`local_size` must be between 1 and `image_size` ({image_size}); got {local_size}."
            )
        global_filters = [int(f) for f in global_filters]
        local_filters = [int(f) for f in local_filters]
        if not global_filters or not local_filters:
            raise ValueError(
                "each branch needs at least one conv: `global_filters` and "
                "`local_filters` must not be empty."
            )
        if output_activation not in _OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"`output_activation` must be one of {_OUTPUT_ACTIVATIONS}; got "
                f"{output_activation!r}."
            )

        def apply_branch(x, filters, prefix):
            for i, width in enumerate(filters):
                x = apply_conv_block(
                    x,
                    width,
                    kernel_size,
                    f"{prefix}_block{i + 1}",
                    strides=2,
                    batch_norm_momentum=batch_norm_momentum,
                )
            x = keras.layers.Flatten(name=f"{prefix}_flatten")(x)
            x = keras.layers.Dense(fc_units, name=f"{prefix}_fc")(x)
            return keras.layers.ReLU(name=f"{prefix}_fc_relu")(x)

        # === Layers ===
        local_crop = HoleCenteredCrop(local_size, name="local_crop")
        head_concat = keras.layers.Concatenate(axis=-1, name="head_concat")
        head_fc = keras.layers.Dense(1, name="head_fc")

        # === Functional Model ===
        image = keras.Input(shape=(image_size, image_size, 3), name="image")
        mask = keras.Input(shape=(image_size, image_size, 1), name="mask")
        global_features = apply_branch(image, global_filters, "global")
        local_features = apply_branch(local_crop([image, mask]), local_filters, "local")
        x = head_fc(head_concat([global_features, local_features]))
        if output_activation is not None:
            x = keras.layers.Activation(output_activation, name=f"head_{output_activation}")(x)
        kwargs.setdefault("name", "glcic_discriminator")
        super().__init__(inputs=[image, mask], outputs=x, **kwargs)

        # === Config ===
        self.image_size = image_size
        self.local_size = local_size
        self.global_filters = tuple(global_filters)
        self.local_filters = tuple(local_filters)
        self.fc_units = fc_units
        self.kernel_size = kernel_size
        self.batch_norm_momentum = batch_norm_momentum
        self.output_activation = output_activation

    def submodule_params(self):
        """Trainable parameter counts of the global branch, the local branch and the head.

        Layers are grouped by their name prefix (`global_`, `local_`, `head_`);
        the three counts sum to the model's trainable count.
        """
        return trainable_params_by_prefix(self, _PARTS)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_size": self.image_size,
            "local_size": self.local_size,
            "global_filters": list(self.global_filters),
            "local_filters": list(self.local_filters),
            "fc_units": self.fc_units,
            "kernel_size": self.kernel_size,
            "batch_norm_momentum": self.batch_norm_momentum,
            "output_activation": self.output_activation,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
