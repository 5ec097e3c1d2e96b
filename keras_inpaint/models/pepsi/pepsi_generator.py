"""`PEPSIGenerator`: PEPSI's encoder, contextual attention and shared (parallel) decoder."""

import keras

from keras_inpaint.layers.contextual_attention import ContextualAttention
from keras_inpaint.layers.hole_fill import HoleFill
from keras_inpaint.layers.rate_adaptive_conv2d import RateAdaptiveConv2D
from keras_inpaint.layers.residual_composite import ResidualComposite
from keras_inpaint.presets.preset import PresetMixin

_MASK_CHANNELS = (1, 3)
_FILLS = ("zero", "push_pull")
# Downsampling of the encoder: three stride-2 convs.
_ENCODER_STRIDE = 8


def _trainable_params(model):
    # keras_inpaint.zoo has the same count but imports the recipes, which import
    # every zoo entry: importing it here would be circular.
    return int(sum(keras.ops.size(variable) for variable in model.trainable_variables))


def apply_conv_block(
    x, filters, kernel_size, name, strides=1, dilation_rate=1, separable=False, activation="elu"
):
    """Conv (or depthwise + 1x1 pointwise conv, both with bias) -> optional activation."""
    if separable:
        x = keras.layers.DepthwiseConv2D(
            kernel_size,
            strides=strides,
            dilation_rate=dilation_rate,
            padding="same",
            name=f"{name}_dw",
        )(x)
        x = keras.layers.Conv2D(filters, 1, name=f"{name}_pw")(x)
    else:
        x = keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            dilation_rate=dilation_rate,
            padding="same",
            name=f"{name}_conv",
        )(x)
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def apply_encoder(x, filters, dilation_rates, rate_adaptive, separable):
    """PEPSI's encoder: 5x5 conv, three 3x3 stride-2 stages, then the dilated convs."""
    widths = (filters, 2 * filters, 2 * filters, 4 * filters, 4 * filters, 8 * filters)
    kernels = (5, 3, 3, 3, 3, 3)
    strides = (1, 2, 1, 2, 1, 2)
    for i, (width, kernel, stride) in enumerate(zip(widths, kernels, strides, strict=True)):
        x = apply_conv_block(
            x, width, kernel, f"encoder_conv{i + 1}", strides=stride, separable=separable
        )
    if rate_adaptive:
        shared = RateAdaptiveConv2D(
            8 * filters, dilation_rates=dilation_rates, name="encoder_rate_adaptive_conv"
        )
        for i in range(len(dilation_rates)):
            x = shared(x, rate_index=i)
            x = keras.layers.Activation("elu", name=f"encoder_dilated{i + 1}_elu")(x)
        return x
    for i, rate in enumerate(dilation_rates):
        x = apply_conv_block(
            x,
            8 * filters,
            3,
            f"encoder_dilated{i + 1}",
            dilation_rate=rate,
            separable=separable,
        )
    return x


def apply_decoder(x, filters, separable):
    """Two 3x3 convs per scale, nearest-neighbour x2 upsampling between, 3x3 conv to RGB."""
    widths = (4 * filters, 2 * filters, filters, filters // 2)
    for stage, width in enumerate(widths):
        if stage:
            x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"decoder_up{stage}")(x)
        for j in range(2):
            x = apply_conv_block(
                x, width, 3, f"decoder_conv{2 * stage + j + 1}", separable=separable
            )
    return apply_conv_block(x, 3, 3, "decoder_output", separable=separable, activation="hard_tanh")


@keras.saving.register_keras_serializable(package="keras_inpaint")
class PEPSIGenerator(PresetMixin, keras.Model):
    """PEPSI generator: one encoder, a contextual attention module, one decoder used twice.

    Sagong et al., "PEPSI: Fast Image Inpainting with Parallel Decoding
    Network", CVPR 2019 (https://arxiv.org/abs/1901.03396), and its lighter
    Diet-PEPSI (Shin et al., "PEPSI++", https://arxiv.org/abs/1905.09010).
    Inputs `masked_image (B, S, S, 3)` and `mask (B, S, S, 1)` (1 = hole);
    the hole is zeroed and the mask appended as `mask_channels` channels.
    With `w = filters` (32 in the paper), ELU after every conv:

    - encoder: 5x5 conv w; 3x3 stride-2 2w; 3x3 2w; 3x3 stride-2 4w; 3x3 4w;
      3x3 stride-2 8w; 3x3 8w dilated by each of `dilation_rates` (2, 4, 8,
      16). Output `(S/8, S/8, 8w)`.
    - CAM: `ContextualAttention` rebuilds the hole's features from known
      3x3 patches; the result is concatenated with the encoder features and
      mixed back to 8w channels by a 1x1 conv.
    - decoder: (3x3 4w) x2, nearest x2 up, (3x3 2w) x2, up, (3x3 w) x2, up,
      (3x3 w/2) x2, 3x3 conv to 3 channels clipped to [-1, 1].

    One decoder, two paths (the parallel decoding): the coarse path
    `decoder(encoder(x))` and the inpainting path `decoder(CAM(encoder(x)))`
    use the same decoder layers and variables. The model itself (its call,
    `predict`, the export) runs only the inpainting path; `training_model`
    is a second functional view over the same layers with outputs
    `[coarse, inpainted]`, computing the encoder once, that
    `PEPSIInpainter` trains. It adds no variables.

    `fill="push_pull"` pre-fills the hole by push-pull (`keras_inpaint.layers.
    push_pull`) instead of zeroing it, and `residual=True` makes both paths
    predict a correction to that pre-fill, `clip(filled + decoder(...))`, with
    the decoder's output conv starting at zero, so the untrained network
    returns the pre-fill. Neither is in the paper; the presets use both.

    Variants:
    - `rate_adaptive=True` (Diet-PEPSI): the dilated convs share one kernel,
      adapted per rate by a learned scale and shift (`RateAdaptiveConv2D`).
    - `separable=True` (seed 000's lightweight variant): every conv of the
      encoder and decoder is a depthwise conv with bias followed by a 1x1
      conv with bias; the CAM's 1x1 conv stays as it is.

    Parameter counts at S = 256, w = 32 with `mask_channels=3` (the seed's
    6-channel input): encoder 2,937,184, CAM 131,328, decoder 588,435;
    separable: 342,076 / 131,328 / 73,171 (`submodule_params()`; derivation
    in models/pepsi/README.md).

    Args:
        image_size: input side S, a multiple of 8.
        filters: base width w (even); the encoder ends at 8w channels.
        mask_channels: 1 (the project's mask) or 3 (the seed's 6-channel
            input: RGB + the mask repeated 3 times).
        dilation_rates: rates of the dilated convs.
        rate_adaptive: Diet-PEPSI's shared rate-adaptive dilated convs.
        separable: depthwise-separable convs (not with `rate_adaptive`).
        attention_scale: softmax scale of the CAM (PEPSI: 50).
        attention_implementation: `"fused"` or `"patches"`, see
            `ContextualAttention`.
        fill: `"zero"` (the paper) or `"push_pull"`, the hole's pre-fill.
        residual: predict a correction to the pre-filled input (see above).
        **kwargs: `name`, `trainable`.

    Example:
    ```python
    generator = PEPSIGenerator(image_size=32, filters=4)
    masked_image = np.zeros((2, 32, 32, 3), "float32")
    mask = np.zeros((2, 32, 32, 1), "float32")
    mask[:, 8:24, 8:24] = 1.0
    inpainted = generator([masked_image, mask])  # (2, 32, 32, 3)
    coarse, inpainted = generator.training_model([masked_image, mask])
    generator.submodule_params()  # {"encoder": ..., "cam": ..., "decoder": ...}
    ```
    """

    def __init__(
        self,
        image_size=256,
        filters=32,
        mask_channels=1,
        dilation_rates=(2, 4, 8, 16),
        rate_adaptive=False,
        separable=False,
        attention_scale=50.0,
        attention_implementation="fused",
        fill="zero",
        residual=False,
        **kwargs,
    ):
        if fill not in _FILLS:
            raise ValueError(f"`fill` must be one of {_FILLS}; got {fill!r}.")
        if image_size % _ENCODER_STRIDE:
            raise ValueError(
                f"PEPSIGenerator downsamples by {_ENCODER_STRIDE} (three stride-2 convs), so "
                f"`image_size` must be a multiple of {_ENCODER_STRIDE}; got {image_size}."
            )
        if filters < 2 or filters % 2:
            raise ValueError(
                f"`filters` must be an even number >= 2 (the last decoder stage has filters / 2 "
                f"channels); got {filters}."
            )
        if mask_channels not in _MASK_CHANNELS:
            raise ValueError(
                f"`mask_channels` must be one of {_MASK_CHANNELS}; got {mask_channels}."
            )
        if rate_adaptive and separable:
            raise ValueError(
                "`rate_adaptive` (Diet-PEPSI's shared full kernel) and `separable` (depthwise "
                "convs) are separate variants; pick one."
            )
        dilation_rates = [int(rate) for rate in dilation_rates]
        feature_size = image_size // _ENCODER_STRIDE
        feature_channels = 8 * filters

        # === Layers ===
        hole_fill = HoleFill(
            mode="push_pull" if fill == "push_pull" else "constant", value=0.0, name="hole_fill"
        )
        input_concat = keras.layers.Concatenate(axis=-1, name="input_with_mask")

        encoder_input = keras.Input(
            shape=(image_size, image_size, 3 + mask_channels), name="encoder_input"
        )
        encoder = keras.Model(
            encoder_input,
            apply_encoder(encoder_input, filters, dilation_rates, rate_adaptive, separable),
            name="encoder",
        )

        cam_features = keras.Input(
            shape=(feature_size, feature_size, feature_channels), name="cam_features"
        )
        cam_mask = keras.Input(shape=(image_size, image_size, 1), name="cam_mask")
        attended = ContextualAttention(
            scale=attention_scale, implementation=attention_implementation, name="cam_attention"
        )([cam_features, cam_mask])
        mixed = keras.layers.Concatenate(axis=-1, name="cam_concat")([cam_features, attended])
        mixed = apply_conv_block(mixed, feature_channels, 1, "cam_mix")
        cam = keras.Model([cam_features, cam_mask], mixed, name="cam")

        decoder_input = keras.Input(
            shape=(feature_size, feature_size, feature_channels), name="decoder_input"
        )
        decoder = keras.Model(
            decoder_input, apply_decoder(decoder_input, filters, separable), name="decoder"
        )
        if residual:
            # The last conv starts at zero: the untrained correction is 0.
            output_conv = decoder.get_layer(
                "decoder_output_pw" if separable else "decoder_output_conv"
            )
            output_conv.kernel.assign(keras.ops.zeros_like(output_conv.kernel))

        # === Functional Model ===
        masked_image = keras.Input(shape=(image_size, image_size, 3), name="masked_image")
        mask = keras.Input(shape=(image_size, image_size, 1), name="mask")
        filled = hole_fill([masked_image, mask])
        features = encoder(input_concat([filled] + [mask] * mask_channels))
        inpainted = decoder(cam([features, mask]))
        add_to_fill = ResidualComposite(name="residual_composite")
        if residual:
            inpainted = add_to_fill([filled, inpainted])
        kwargs.setdefault("name", "pepsi_generator")
        super().__init__(inputs=[masked_image, mask], outputs=inpainted, **kwargs)
        self.encoder = encoder
        self.cam = cam
        self.decoder = decoder
        # The coarse path: the same decoder object on the encoder features.
        coarse = decoder(features)
        if residual:
            coarse = add_to_fill([filled, coarse])
        self.training_model = keras.Model(
            [masked_image, mask], [coarse, inpainted], name=f"{self.name}_training"
        )

        # === Config ===
        self.image_size = image_size
        self.filters = filters
        self.mask_channels = mask_channels
        self.dilation_rates = dilation_rates
        self.rate_adaptive = rate_adaptive
        self.separable = separable
        self.attention_scale = float(attention_scale)
        self.attention_implementation = attention_implementation
        self.fill = fill
        self.residual = residual

    def submodule_params(self):
        """Trainable parameters of the encoder, the CAM (its 1x1 conv) and the shared decoder."""
        return {
            "encoder": _trainable_params(self.encoder),
            "cam": _trainable_params(self.cam),
            "decoder": _trainable_params(self.decoder),
        }

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_size": self.image_size,
            "filters": self.filters,
            "mask_channels": self.mask_channels,
            "dilation_rates": list(self.dilation_rates),
            "rate_adaptive": self.rate_adaptive,
            "separable": self.separable,
            "attention_scale": self.attention_scale,
            "attention_implementation": self.attention_implementation,
            "fill": self.fill,
            "residual": self.residual,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
