"""`ContextEncoderGenerator`: Pathak et al.'s encoder-decoder inpainting generator."""

import math

import keras

from keras_inpaint.layers import full_window_conv
from keras_inpaint.layers.channel_wise_dense import ChannelWiseDense
from keras_inpaint.layers.hole_fill import HoleFill
from keras_inpaint.layers.residual_composite import ResidualComposite
from keras_inpaint.models.submodules import trainable_params_by_prefix
from keras_inpaint.presets.preset import PresetMixin

_VARIANTS = ("center", "full")
_ENCODERS = ("dcgan", "alexnet")
_ALEXNET_DEFAULT_FILTERS = (96, 256, 384, 384, 256)
# Decoder widths of the paper's AlexNet-encoder model (Pathak et al., fig. 9).
_ALEXNET_DECODER_TAIL = (128, 64, 64, 32)


def apply_conv_block(
    x,
    filters,
    kernel_size,
    strides,
    padding,
    batch_norm,
    activation,
    batch_norm_momentum,
    name,
    transpose=False,
):
    """Conv (or transposed conv) -> optional BatchNorm -> activation."""
    # Plain Conv2D / Conv2DTranspose, except that a window covering the whole map
    # (the DCGAN bottleneck and the decoder's first up-conv) runs as one matmul.
    conv_class = full_window_conv.Conv2DTranspose if transpose else full_window_conv.Conv2D
    x = conv_class(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        name=f"{name}_{'convT' if transpose else 'conv'}",
    )(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_bn")(x)
    if activation == "leaky_relu":
        x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"{name}_lrelu")(x)
    else:
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def apply_dcgan_encoder(x, encoder_filters, batch_norm_momentum, features=None):
    """4x4 stride-2 convs, BatchNorm on all but the first, LeakyReLU 0.2.

    When `features` is a dict, each block's output is stored in it by side length
    (for the optional skip connections).
    """
    for i, filters in enumerate(encoder_filters):
        x = apply_conv_block(
            x,
            filters,
            4,
            2,
            "same",
            batch_norm=i > 0,
            activation="leaky_relu",
            batch_norm_momentum=batch_norm_momentum,
            name=f"encoder_block{i + 1}",
        )
        if features is not None:
            features[x.shape[1]] = x
    return x


def apply_alexnet_encoder(x, encoder_filters, batch_norm_momentum):
    """AlexNet conv1..pool5 with BatchNorm in place of local response normalization."""
    specs = ((11, 4, "valid", True), (5, 1, "same", True), (3, 1, "same", False))
    specs += ((3, 1, "same", False), (3, 1, "same", True))
    for i, (filters, (kernel, strides, padding, pool)) in enumerate(
        zip(encoder_filters, specs, strict=True)
    ):
        x = apply_conv_block(
            x,
            filters,
            kernel,
            strides,
            padding,
            batch_norm=True,
            activation="relu",
            batch_norm_momentum=batch_norm_momentum,
            name=f"encoder_conv{i + 1}",
        )
        if pool:
            x = keras.layers.MaxPooling2D(3, strides=2, name=f"encoder_pool{i + 1}")(x)
    return x


def apply_decoder(
    x,
    decoder_filters,
    first_kernel_valid,
    output_size,
    batch_norm_momentum,
    skips=None,
    output_initializer="glorot_uniform",
):
    """Transposed 4x4 convs (BN + ReLU), the last to 3 channels; returns pre-tanh values.

    `skips` maps a side length to an encoder feature map concatenated to the
    decoder features of that size (U-Net style). `output_initializer` is the
    kernel initializer of the last (3-channel) transposed conv.
    """
    skips = skips or {}
    for i, filters in enumerate(decoder_filters):
        # The DCGAN decoder's first up-conv maps the 1x1 code to 4x4 (valid, stride 1).
        first_valid = first_kernel_valid and i == 0
        x = apply_conv_block(
            x,
            filters,
            4,
            1 if first_valid else 2,
            "valid" if first_valid else "same",
            batch_norm=True,
            activation="relu",
            batch_norm_momentum=batch_norm_momentum,
            name=f"decoder_block{i + 1}",
            transpose=True,
        )
        if x.shape[1] in skips:
            x = keras.layers.Concatenate(name=f"decoder_skip{i + 1}")([x, skips[x.shape[1]]])
    x = keras.layers.Conv2DTranspose(
        3,
        4,
        strides=2,
        padding="same",
        kernel_initializer=output_initializer,
        name="decoder_output_convT",
    )(x)
    if x.shape[1] != output_size:
        # AlexNet pool5 sizes are not always output_size / 2^k (seed 002 resized
        # 192 -> 128 the same way).
        x = keras.layers.Resizing(
            output_size, output_size, interpolation="bilinear", name="decoder_output_resize"
        )(x)
    return x


def _log2_exact(value):
    if value < 1 or value & (value - 1):
        return None
    return int(math.log2(value))


def alexnet_pool5_size(image_size):
    """Spatial size after AlexNet conv1..pool5 (11x11 s4 valid conv, three 3x3 s2 pools)."""
    size = (image_size - 11) // 4 + 1
    for _ in range(3):
        size = (size - 3) // 2 + 1
    return size


@keras.saving.register_keras_serializable(package="keras_inpaint")
class ContextEncoderGenerator(PresetMixin, keras.Model):
    """Context Encoder generator: encoder, bottleneck, up-convolutional decoder.

    Pathak et al., "Context Encoders: Feature Learning by Inpainting", CVPR
    2016 (https://arxiv.org/abs/1604.07379). Inputs `masked_image (B, S, S, 3)`
    and `mask (B, S, S, 1)` (1 = hole). The hole is first filled by
    `HoleFill` (constant or known-pixel mean) and, with `mask_channel=True`,
    the mask is appended as a 4th input channel (Pathak's code feeds RGB only,
    which is enough for a fixed centre hole but not for random holes).

    Encoders:
    - `"dcgan"` (Pathak's code): `len(encoder_filters)` 4x4 stride-2 convs
      (BN on all but the first, LeakyReLU 0.2) from S down to 4x4, then a 4x4
      valid conv to a `1x1xbottleneck` code (BN + LeakyReLU). The decoder
      starts with a 4x4 valid transposed conv to 4x4, then 4x4 stride-2
      transposed convs (BN + ReLU) and a last one to 3 channels, tanh.
    - `"alexnet"` (the paper's arbitrary-region model, seed 002 "Photos"):
      AlexNet conv1..pool5 (11x11 s4 valid, pool 3 s2, 5x5, pool, 3x3, 3x3,
      3x3, pool; BN + ReLU), 128 -> 30 -> 14 -> 6 -> 2x2x256, then a
      `ChannelWiseDense` layer (+ ReLU), a stride-1 1x1 conv to `bottleneck`
      channels (BN + ReLU) mixing the channels, then 4x4 stride-2 transposed
      convs (BN + ReLU) and a last one to 3 channels, tanh.

    Variants: `"center"` predicts only the central `S/2 x S/2` region (the
    64x64 centre of a 128 image: the Inpainter pastes it back), `"full"` the
    whole `S x S` image.

    `residual=True` outputs `clip(filled + tanh(decoder), -1, 1)` where
    `filled` is the hole-filled input (its centre crop for `"center"`). An
    untrained network then starts at its hole fill instead of at tanh of
    random features (PSNR of a mean fill, not of noise), and the decoder only
    learns a correction: this converges in far fewer steps, which is what a
    short CPU training from scratch needs. It is not in the paper. With
    `zero_init_output=True` the last transposed conv starts at zero, so the
    untrained network equals its hole fill exactly.

    `skip_connections=True` (DCGAN encoder, full variant) concatenates each
    encoder block's output to the decoder features of the same size, as a
    U-Net does. The bottleneck then no longer has to carry where things are,
    only what the hole needs; not in the paper either, offered for small
    budgets next to `residual`.

    Args:
        image_size: input side S.
        variant: `"center"` (output S/2) or `"full"` (output S).
        encoder: `"dcgan"` or `"alexnet"`.
        encoder_filters: filters of the encoder convs. `dcgan`: one per
            stride-2 conv, `log2(S / 4)` of them; default `max(64, 512 / 2^j)`
            counting back from the last, `[64, 64, 128, 256, 512]` at 128.
            `alexnet`: 5 values, default `[96, 256, 384, 384, 256]`.
        bottleneck: `dcgan`: channels of the 1x1 code (default 4000, as
            Pathak's Paris StreetView model). `alexnet`: output channels of
            the 1x1 conv after the channel-wise layer (default: the last
            encoder filter count, 256).
        decoder_filters: filters of the decoder's transposed convs before the
            final 3-channel one. `dcgan`: `log2(output / 4)` values (the first
            is the 1x1 -> 4x4 conv); default `max(64, 512 / 2^j)`:
            `[512, 256, 128, 64]` (center 128), `[512, 256, 128, 64, 64]`
            (full 128, as Pathak's `train_random.lua`). `alexnet`:
            `ceil(log2(output / pool5)) - 1` values; default ends with the
            paper's `[128, 64, 64, 32]`, prefixed by 256s when more are needed.
        mask_channel: append the mask as a 4th input channel.
        fill: `"constant"`, `"known_mean"` or `"push_pull"` (see `HoleFill`).
        fill_value: the constant of `fill="constant"`, a float or a 3-list in
            [-1, 1]; Pathak's code uses
            `[2 * 117 / 255 - 1, 2 * 104 / 255 - 1, 2 * 123 / 255 - 1]`.
        residual: output the filled input plus a tanh residual (see above).
        zero_init_output: start the last transposed conv's kernel at zero.
        skip_connections: U-Net skips from encoder to decoder (see above).
        dropout: dropout rate after the bottleneck (0 = none).
        batch_norm_momentum: BatchNormalization momentum (0.9 = Torch's 0.1).
        **kwargs: `name`, `trainable`.

    Example:
    ```python
    generator = ContextEncoderGenerator(
        image_size=32, encoder_filters=[8, 16, 32], bottleneck=64, decoder_filters=[32, 16]
    )
    masked_image = np.zeros((2, 32, 32, 3), "float32")
    mask = np.zeros((2, 32, 32, 1), "float32")
    mask[:, 8:24, 8:24] = 1.0
    region = generator([masked_image, mask])  # (2, 16, 16, 3), the 16x16 centre
    generator.submodule_params()  # {"encoder": ..., "bottleneck": ..., "decoder": ...}
    ```
    """

    def __init__(
        self,
        image_size=128,
        variant="center",
        encoder="dcgan",
        encoder_filters=None,
        bottleneck=None,
        decoder_filters=None,
        mask_channel=True,
        fill="constant",
        fill_value=0.0,
        residual=False,
        zero_init_output=False,
        skip_connections=False,
        dropout=0.0,
        batch_norm_momentum=0.9,
        **kwargs,
    ):
        if variant not in _VARIANTS:
            raise ValueError(f"`variant` must be one of {_VARIANTS}; got {variant!r}.")
        if encoder not in _ENCODERS:
            raise ValueError(f"`encoder` must be one of {_ENCODERS}; got {encoder!r}.")
        if variant == "center" and image_size % 4:
            raise ValueError(
                f"variant='center' needs `image_size` divisible by 4; got {image_size}."
            )
        if skip_connections and (encoder, variant) != ("dcgan", "full"):
            raise ValueError(
                "skip_connections=True needs encoder='dcgan' and variant='full' (encoder and "
                f"decoder feature sizes must match); got encoder={encoder!r}, variant={variant!r}."
            )
        output_size = image_size // 2 if variant == "center" else image_size
        if encoder == "dcgan":
            encoder_filters, bottleneck, decoder_filters = _resolve_dcgan(
                image_size, output_size, variant, encoder_filters, bottleneck, decoder_filters
            )
        else:
            encoder_filters, bottleneck, decoder_filters = _resolve_alexnet(
                image_size, output_size, variant, encoder_filters, bottleneck, decoder_filters
            )

        # === Layers ===
        hole_fill = HoleFill(mode=fill, value=fill_value, name="hole_fill")
        input_concat = keras.layers.Concatenate(axis=-1, name="input_with_mask")
        output_tanh = keras.layers.Activation("tanh", name="decoder_output_tanh")

        # === Functional Model ===
        masked_image = keras.Input(shape=(image_size, image_size, 3), name="masked_image")
        mask = keras.Input(shape=(image_size, image_size, 1), name="mask")
        filled = hole_fill([masked_image, mask])
        x = input_concat([filled, mask]) if mask_channel else filled
        skips = {} if skip_connections else None
        if encoder == "dcgan":
            x = apply_dcgan_encoder(x, encoder_filters, batch_norm_momentum, features=skips)
            x = apply_conv_block(
                x,
                bottleneck,
                4,
                1,
                "valid",
                batch_norm=True,
                activation="leaky_relu",
                batch_norm_momentum=batch_norm_momentum,
                name="bottleneck",
            )
            if dropout:
                x = keras.layers.Dropout(dropout, name="bottleneck_dropout")(x)
        else:
            x = apply_alexnet_encoder(x, encoder_filters, batch_norm_momentum)
            x = ChannelWiseDense(name="bottleneck_cwfc")(x)
            x = keras.layers.ReLU(name="bottleneck_cwfc_relu")(x)
            if dropout:
                x = keras.layers.Dropout(dropout, name="bottleneck_dropout")(x)
            x = apply_conv_block(
                x,
                bottleneck,
                1,
                1,
                "valid",
                batch_norm=True,
                activation="relu",
                batch_norm_momentum=batch_norm_momentum,
                name="bottleneck_mix",
            )
        x = apply_decoder(
            x,
            decoder_filters,
            first_kernel_valid=encoder == "dcgan",
            output_size=output_size,
            batch_norm_momentum=batch_norm_momentum,
            skips=skips,
            output_initializer="zeros" if zero_init_output else "glorot_uniform",
        )
        outputs = output_tanh(x)
        if residual:
            base = filled
            if variant == "center":
                margin = image_size // 4
                base = keras.layers.Cropping2D(margin, name="residual_center_crop")(filled)
            outputs = ResidualComposite(name="residual_composite")([base, outputs])
        kwargs.setdefault("name", "context_encoder_generator")
        super().__init__(inputs=[masked_image, mask], outputs=outputs, **kwargs)

        # === Config ===
        self.image_size = image_size
        self.output_size = output_size
        self.variant = variant
        self.encoder = encoder
        self.encoder_filters = tuple(encoder_filters)
        self.bottleneck = bottleneck
        self.decoder_filters = tuple(decoder_filters)
        self.mask_channel = mask_channel
        self.fill = fill
        self.fill_value = list(fill_value) if isinstance(fill_value, (list, tuple)) else fill_value
        self.residual = residual
        self.zero_init_output = zero_init_output
        self.skip_connections = skip_connections
        self.dropout = dropout
        self.batch_norm_momentum = batch_norm_momentum

    def submodule_params(self):
        """Trainable parameter counts of the encoder, bottleneck and decoder.

        Layers are grouped by their name prefix (`encoder_`, `bottleneck_`,
        `decoder_`); the three counts sum to the model's trainable count.
        """
        return trainable_params_by_prefix(self, ("encoder", "bottleneck", "decoder"))

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_size": self.image_size,
            "variant": self.variant,
            "encoder": self.encoder,
            "encoder_filters": list(self.encoder_filters),
            "bottleneck": self.bottleneck,
            "decoder_filters": list(self.decoder_filters),
            "mask_channel": self.mask_channel,
            "fill": self.fill,
            "fill_value": (
                list(self.fill_value) if isinstance(self.fill_value, list) else self.fill_value
            ),
            "residual": self.residual,
            "zero_init_output": self.zero_init_output,
            "skip_connections": self.skip_connections,
            "dropout": self.dropout,
            "batch_norm_momentum": self.batch_norm_momentum,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _dcgan_widths(count, widest, narrowest, reverse):
    widths = [max(narrowest, widest >> j) for j in range(count)]
    return widths[::-1] if reverse else widths


def _resolve_dcgan(image_size, output_size, variant, encoder_filters, bottleneck, decoder_filters):
    num_down = _log2_exact(image_size // 4) if image_size % 4 == 0 else None
    if not num_down:
        valid = ", ".join(str(4 * 2**n) for n in range(1, 8))
        raise ValueError(
            "encoder='dcgan' halves the image with 4x4 stride-2 convs down to 4x4, so "
            f"`image_size` must be 4 * 2^n (n >= 1: {valid}, ...); got {image_size}."
        )
    if encoder_filters is None:
        encoder_filters = _dcgan_widths(num_down, 512, 64, reverse=True)
    encoder_filters = [int(f) for f in encoder_filters]
    if len(encoder_filters) != num_down:
        raise ValueError(
            f"encoder='dcgan' with image_size={image_size} needs {num_down} encoder filters "
            f"(one stride-2 conv per halving {image_size} -> 4); got {len(encoder_filters)}. "
            f"{len(encoder_filters)} filters fit image_size={4 * 2 ** len(encoder_filters)}."
        )
    bottleneck = 4000 if bottleneck is None else int(bottleneck)
    num_up = _log2_exact(output_size // 4) if output_size % 4 == 0 else None
    if not num_up:
        raise ValueError(
            f"variant={variant!r} with image_size={image_size} gives a {output_size}x"
            f"{output_size} output; the DCGAN decoder needs 4 * 2^n with n >= 1."
        )
    if decoder_filters is None:
        decoder_filters = _dcgan_widths(num_up, 512, 64, reverse=False)
    decoder_filters = [int(f) for f in decoder_filters]
    if len(decoder_filters) != num_up:
        raise ValueError(
            f"variant={variant!r} with image_size={image_size} decodes 1x1 -> "
            f"{output_size}x{output_size}: it needs {num_up} decoder filters (the 1x1 -> 4x4 "
            f"conv, then one per doubling before the 3-channel output); got "
            f"{len(decoder_filters)}, which fits a {4 * 2 ** len(decoder_filters)}x"
            f"{4 * 2 ** len(decoder_filters)} output."
        )
    return encoder_filters, bottleneck, decoder_filters


def _resolve_alexnet(
    image_size, output_size, variant, encoder_filters, bottleneck, decoder_filters
):
    pool5 = alexnet_pool5_size(image_size)
    if pool5 < 1:
        raise ValueError(
            "encoder='alexnet' needs image_size >= 67 (conv1 11x11 s4 and three 3x3 s2 "
            f"pools); got {image_size}."
        )
    if encoder_filters is None:
        encoder_filters = _ALEXNET_DEFAULT_FILTERS
    encoder_filters = [int(f) for f in encoder_filters]
    if len(encoder_filters) != 5:
        raise ValueError(
            "encoder='alexnet' has five convs (conv1..conv5): `encoder_filters` needs 5 "
            f"values; got {len(encoder_filters)}."
        )
    bottleneck = encoder_filters[-1] if bottleneck is None else int(bottleneck)
    num_up = max(1, math.ceil(math.log2(output_size / pool5)))
    if decoder_filters is None:
        tail = list(_ALEXNET_DECODER_TAIL)
        count = num_up - 1
        decoder_filters = [256] * max(0, count - len(tail)) + tail[len(tail) - min(count, 4) :]
    decoder_filters = [int(f) for f in decoder_filters]
    if len(decoder_filters) != num_up - 1:
        raise ValueError(
            f"encoder='alexnet', variant={variant!r}, image_size={image_size}: pool5 is "
            f"{pool5}x{pool5} and the output {output_size}x{output_size}, so the decoder has "
            f"{num_up} stride-2 up-convs and needs {num_up - 1} decoder filters (the last "
            f"up-conv outputs 3 channels); got {len(decoder_filters)}."
        )
    return encoder_filters, bottleneck, decoder_filters
