"""`GLCICGenerator`: Iizuka et al.'s completion network (dilated convolutions at 1/4 resolution)."""

import keras

from keras_inpaint.layers.hole_fill import HoleFill
from keras_inpaint.layers.residual_composite import ResidualComposite
from keras_inpaint.models.submodules import trainable_params_by_prefix
from keras_inpaint.presets.preset import PresetMixin

# Widths of the paper's completion network (Iizuka et al. 2017, table 1) in units
# of the first layer's 64 filters, and where each layer sits.
_ENCODER = (  # (kernel, stride, width factor)
    (5, 1, 1),
    (3, 2, 2),
    (3, 1, 2),
    (3, 2, 4),
    (3, 1, 4),
    (3, 1, 4),
)
_DECODER_CONVS = (4, 4)  # two 3x3 convs at 1/4 resolution after the dilated ones
_UPSAMPLING = ((2, 2), (1, 0.5))  # (deconv width factor, following 3x3 conv factor)
_SKIP_SOURCES = (2, 0)  # encoder layers (0-based) added after the 1st and 2nd deconv
_PARTS = ("encoder", "dilated", "decoder")
_FILLS = ("constant", "push_pull")


def apply_conv_block(
    x,
    filters,
    kernel_size,
    name,
    strides=1,
    dilation_rate=1,
    transpose=False,
    batch_norm_momentum=0.9,
):
    """Conv (or 2x transposed conv), "same" padding -> BatchNorm -> ReLU.

    GLCIC puts BatchNorm and ReLU after every convolution but the output one,
    in the completion network and in both discriminators.
    """
    if transpose:
        x = keras.layers.Conv2DTranspose(
            filters, kernel_size, strides=strides, padding="same", name=f"{name}_deconv"
        )(x)
    else:
        x = keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            dilation_rate=dilation_rate,
            padding="same",
            name=f"{name}_conv",
        )(x)
    x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


@keras.saving.register_keras_serializable(package="keras_inpaint")
class GLCICGenerator(PresetMixin, keras.Model):
    """GLCIC completion network: conv encoder to 1/4 size, dilated convs, deconv decoder.

    Iizuka, Simo-Serra, Ishikawa, "Globally and Locally Consistent Image
    Completion", SIGGRAPH 2017 (https://doi.org/10.1145/3072959.3073659),
    table 1. Inputs `masked_image (B, S, S, 3)` and `mask (B, S, S, 1)`
    (1 = hole). The hole is filled with the dataset's mean pixel
    (`fill_value`), the mask appended as a 4th channel, then 17 convolutions
    (BatchNorm + ReLU after all but the last):

    - encoder: 5x5 64; 3x3 s2 128; 3x3 128; 3x3 s2 256; 3x3 256; 3x3 256
    - dilated: 3x3 256 with dilation rates 2, 4, 8, 16 (at S/4)
    - decoder: 3x3 256 x2; 4x4 deconv (x2 up) 128; 3x3 128; 4x4 deconv 64;
      3x3 32; 3x3 3 with tanh (the paper's sigmoid, for pixels in [-1, 1])

    (widths for `base_filters=64`; every width scales with it). The output
    keeps the input's known pixels: `masked_image + (tanh - masked_image) *
    mask`, so only the hole comes from the network, as in the paper.

    `skip_connections=True` is seed 003's first change, links as in FCN
    (Long et al., https://arxiv.org/abs/1411.4038): the output of the 1/2-size
    encoder conv (3rd layer) is added to the first deconv's output and the
    full-size first conv's output to the second deconv's, so fine detail of
    the known surroundings reaches the decoder without crossing the 1/4-size
    bottleneck. Sums, as FCN does, so the parameter count is unchanged.

    `fill="push_pull"` pre-fills the hole by push-pull (the pyramid fill of
    `keras_inpaint.layers.push_pull`, the best classical fill on real photos)
    instead of a constant, and `residual=True` makes the network predict a
    correction to that pre-fill: `clip(filled + tanh(conv), -1, 1)`, with the
    output conv starting at zero so that the untrained network returns the
    pre-fill exactly. Seed 003 pre-fills by fast marching for the same reason;
    neither option is in the paper, both are off by default.

    Args:
        image_size: input side S, a multiple of 4 (the network works at S/4);
            None builds the network for any height and width that are
            multiples of 4 (the paper completes images of any resolution).
        base_filters: width of the first conv (paper 64); the others are the
            paper's multiples of it (2x, 4x, ..., 0.5x for the 32-filter layer).
        dilation_rates: the four rates of the dilated convs (paper 2, 4, 8, 16).
        fill_value: the hole's fill colour, a float or a list of 3 floats in
            [-1, 1]: the training set's mean pixel, scaled to [-1, 1].
        fill: `"constant"` (the paper: `fill_value`) or `"push_pull"`.
        residual: predict a correction to the filled input (see above).
        skip_connections: add FCN-style encoder-to-decoder links (seed 003).
        batch_norm_momentum: BatchNormalization momentum (0.9 = Torch's 0.1).
        **kwargs: `name`, `trainable`.

    Example:
    ```python
    generator = GLCICGenerator(image_size=32, base_filters=8, dilation_rates=[1, 2, 4, 8])
    masked_image = np.zeros((2, 32, 32, 3), "float32")
    mask = np.zeros((2, 32, 32, 1), "float32")
    mask[:, 8:24, 8:24] = 1.0
    completed = generator([masked_image, mask])  # (2, 32, 32, 3), known pixels kept
    generator.submodule_params()  # {"encoder": ..., "dilated": ..., "decoder": ...}
    ```
    """

    def __init__(
        self,
        image_size=256,
        base_filters=64,
        dilation_rates=(2, 4, 8, 16),
        fill_value=0.0,
        skip_connections=False,
        batch_norm_momentum=0.9,
        fill="constant",
        residual=False,
        **kwargs,
    ):
        if image_size is not None and image_size % 4:
            raise ValueError(
                "GLCICGenerator halves the image twice and doubles it back, so `image_size` "
                f"must be a multiple of 4 (or None for any multiple of 4); got {image_size}."
            )
        dilation_rates = [int(rate) for rate in dilation_rates]
        if len(dilation_rates) != 4 or min(dilation_rates) < 1:
            raise ValueError(
                "`dilation_rates` needs the 4 rates of the dilated convs (paper [2, 4, 8, 16]), "
                f"each at least 1; got {dilation_rates}."
            )
        if base_filters < 2 or base_filters % 2:
            raise ValueError(
                "`base_filters` must be an even number >= 2 (the 32-filter layer is half of "
                f"it); got {base_filters}."
            )
        if fill not in _FILLS:
            raise ValueError(f"`fill` must be one of {_FILLS}; got {fill!r}.")
        fill_value = list(fill_value) if isinstance(fill_value, (list, tuple)) else fill_value

        def width(factor):
            return int(base_filters * factor)

        # === Layers ===
        hole_fill = HoleFill(mode=fill, value=fill_value, name="hole_fill")
        input_concat = keras.layers.Concatenate(axis=-1, name="input_with_mask")
        output_conv = keras.layers.Conv2D(
            3,
            3,
            padding="same",
            kernel_initializer="zeros" if residual else "glorot_uniform",
            name="decoder_output_conv",
        )
        output_tanh = keras.layers.Activation("tanh", name="decoder_output_tanh")
        # Known pixels from the input: masked + (prediction - masked) * mask.
        output_delta = keras.layers.Subtract(name="output_delta")
        output_hole_delta = keras.layers.Multiply(name="output_hole_delta")
        output_composite = keras.layers.Add(name="output_composite")

        # === Functional Model ===
        masked_image = keras.Input(shape=(image_size, image_size, 3), name="masked_image")
        mask = keras.Input(shape=(image_size, image_size, 1), name="mask")
        filled = hole_fill([masked_image, mask])
        x = input_concat([filled, mask])
        features = []
        for i, (kernel, stride, factor) in enumerate(_ENCODER):
            x = apply_conv_block(
                x,
                width(factor),
                kernel,
                f"encoder_block{i + 1}",
                strides=stride,
                batch_norm_momentum=batch_norm_momentum,
            )
            features.append(x)
        for i, rate in enumerate(dilation_rates):
            x = apply_conv_block(
                x,
                width(4),
                3,
                f"dilated_block{i + 1}",
                dilation_rate=rate,
                batch_norm_momentum=batch_norm_momentum,
            )
        for i, factor in enumerate(_DECODER_CONVS):
            x = apply_conv_block(
                x,
                width(factor),
                3,
                f"decoder_block{i + 1}",
                batch_norm_momentum=batch_norm_momentum,
            )
        for i, (deconv_factor, conv_factor) in enumerate(_UPSAMPLING):
            x = apply_conv_block(
                x,
                width(deconv_factor),
                4,
                f"decoder_up{i + 1}",
                strides=2,
                transpose=True,
                batch_norm_momentum=batch_norm_momentum,
            )
            if skip_connections:
                # conv3's output (S/2) joins the first deconv's, conv1's (S) the second's.
                skip = features[_SKIP_SOURCES[i]]
                x = keras.layers.Add(name=f"decoder_skip{i + 1}")([x, skip])
            x = apply_conv_block(
                x,
                width(conv_factor),
                3,
                f"decoder_up{i + 1}_block",
                batch_norm_momentum=batch_norm_momentum,
            )
        prediction = output_tanh(output_conv(x))
        if residual:
            prediction = ResidualComposite(name="residual_composite")([filled, prediction])
        hole_delta = output_hole_delta([output_delta([prediction, masked_image]), mask])
        outputs = output_composite([masked_image, hole_delta])
        kwargs.setdefault("name", "glcic_generator")
        super().__init__(inputs=[masked_image, mask], outputs=outputs, **kwargs)

        # === Config ===
        # Fully convolutional: with image_size=None it takes any multiple of 4 (exports
        # pad to it, see keras_inpaint.export.SizeRule).
        self.size_multiple = 4
        self.image_size = image_size
        self.base_filters = base_filters
        self.dilation_rates = tuple(dilation_rates)
        self.fill_value = fill_value
        self.skip_connections = skip_connections
        self.batch_norm_momentum = batch_norm_momentum
        self.fill = fill
        self.residual = residual

    def submodule_params(self):
        """Trainable parameter counts of the encoder, the dilated convs and the decoder.

        Layers are grouped by their name prefix (`encoder_`, `dilated_`,
        `decoder_`); the three counts sum to the model's trainable count.
        """
        return trainable_params_by_prefix(self, _PARTS)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_size": self.image_size,
            "base_filters": self.base_filters,
            "dilation_rates": list(self.dilation_rates),
            "fill_value": (
                list(self.fill_value) if isinstance(self.fill_value, list) else self.fill_value
            ),
            "skip_connections": self.skip_connections,
            "batch_norm_momentum": self.batch_norm_momentum,
            "fill": self.fill,
            "residual": self.residual,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
