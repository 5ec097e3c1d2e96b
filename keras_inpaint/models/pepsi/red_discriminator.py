"""`REDDiscriminator`: PEPSI's region ensemble discriminator."""

import keras

from keras_inpaint.models.pepsi.cell_wise_dense import CellWiseDense


def _spectral(layer, spectral_norm):
    if not spectral_norm:
        return layer
    # The power iteration runs in float32: under mixed_float16 the norms of small kernels
    # (a depthwise kernel has k * k weights per channel) underflow and give NaN. The
    # wrapped layer keeps its own (mixed) policy.
    return keras.layers.SpectralNormalization(layer, name=f"{layer.name}_sn", dtype="float32")


def apply_red_block(x, filters, kernel_size, separable, spectral_norm, negative_slope, name):
    """Stride-2 conv (or depthwise + 1x1 conv), spectrally normalized, then LeakyReLU."""
    if separable:
        depthwise = keras.layers.DepthwiseConv2D(
            kernel_size, strides=2, padding="same", name=f"{name}_dw"
        )
        x = _spectral(depthwise, spectral_norm)(x)
        x = _spectral(keras.layers.Conv2D(filters, 1, name=f"{name}_pw"), spectral_norm)(x)
    else:
        conv = keras.layers.Conv2D(
            filters, kernel_size, strides=2, padding="same", name=f"{name}_conv"
        )
        x = _spectral(conv, spectral_norm)(x)
    return keras.layers.LeakyReLU(negative_slope=negative_slope, name=f"{name}_lrelu")(x)


@keras.saving.register_keras_serializable(package="keras_inpaint")
class REDDiscriminator(keras.Model):
    """Region ensemble discriminator: strided convs, then one dense classifier per cell.

    Sagong et al., "PEPSI: Fast Image Inpainting with Parallel Decoding
    Network", CVPR 2019 (https://arxiv.org/abs/1901.03396), section 3.3.
    `len(filters)` 5x5 stride-2 convs (64-128-256-256-256-512 in the paper)
    with spectral normalization and LeakyReLU, then `CellWiseDense`: a
    *separate* one-output fully connected layer for every cell of the last
    feature map. Each cell's classifier judges the image region its
    receptive field covers with its own weights, so the one network works as
    local and global discriminator at once, for holes of any shape. A
    256x256 input gives 4x4 cells. Output: raw scores `(B, H', W', 1)` for
    the hinge loss.

    With `separable=True` (seed 000's variant) every conv is a depthwise conv
    with bias followed by a 1x1 conv with bias, each spectrally normalized
    (for the depthwise kernel, `(k * k * C, 1)` reshaped, that is its
    Frobenius norm).

    Parameter counts at 256x256x3 (trainable; spectral normalization adds a
    non-trainable vector `u` per conv, of the conv's output channels, not
    counted): 7,592,080 (8,208 of them in the 16 cell classifiers), separable
    338,014.

    Args:
        image_size: input side.
        filters: output channels of the stride-2 convs, one per conv.
        kernel_size: conv kernel side (5).
        input_channels: channels of the input image.
        separable: depthwise-separable convs.
        spectral_norm: wrap every conv in `keras.layers.SpectralNormalization`.
        negative_slope: LeakyReLU slope (0.2).
        **kwargs: `name`, `trainable`.

    Example:
    ```python
    discriminator = REDDiscriminator(image_size=64, filters=[8, 16, 16, 32])
    scores = discriminator(np.zeros((2, 64, 64, 3), "float32"))  # (2, 4, 4, 1)
    ```
    """

    def __init__(
        self,
        image_size=256,
        filters=(64, 128, 256, 256, 256, 512),
        kernel_size=5,
        input_channels=3,
        separable=False,
        spectral_norm=True,
        negative_slope=0.2,
        **kwargs,
    ):
        filters = [int(f) for f in filters]
        if not filters:
            raise ValueError("`filters` needs at least one value (one stride-2 conv each).")

        # === Layers ===
        cell_dense = CellWiseDense(1, name="cell_dense")

        # === Functional Model ===
        image = keras.Input(shape=(image_size, image_size, input_channels), name="image")
        x = image
        for i, width in enumerate(filters):
            x = apply_red_block(
                x,
                width,
                kernel_size,
                separable,
                spectral_norm,
                negative_slope,
                name=f"block{i + 1}",
            )
        scores = cell_dense(x)
        kwargs.setdefault("name", "red_discriminator")
        super().__init__(inputs=image, outputs=scores, **kwargs)

        # === Config ===
        self.image_size = image_size
        self.filters = filters
        self.kernel_size = kernel_size
        self.input_channels = input_channels
        self.separable = separable
        self.spectral_norm = spectral_norm
        self.negative_slope = float(negative_slope)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_size": self.image_size,
            "filters": list(self.filters),
            "kernel_size": self.kernel_size,
            "input_channels": self.input_channels,
            "separable": self.separable,
            "spectral_norm": self.spectral_norm,
            "negative_slope": self.negative_slope,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
