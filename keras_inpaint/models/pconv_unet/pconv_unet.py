"""`PConvUNet`: the partial-convolution UNet of Liu et al. and of seed 001's CIFAR-10 networks."""

import math

import keras

from keras_inpaint.layers.hole_fill import HoleFill
from keras_inpaint.layers.partial_conv2d import PartialConv2D
from keras_inpaint.layers.residual_composite import ResidualComposite
from keras_inpaint.models.pconv_unet.broadcast_channels import BroadcastChannels
from keras_inpaint.models.submodules import trainable_params_by_prefix
from keras_inpaint.presets.preset import PresetMixin

_ACTIVATIONS = ("relu", "leaky_relu")
_OUTPUT_ACTIVATIONS = ("tanh", "linear")
_SKIP_STYLES = ("resolution", "paired")

# Each preset is the full architecture; constructor arguments override single entries.
PRESETS = {
    # Liu et al., ECCV 2018, section 3.4 and the supplementary's layer table.
    "liu_512": {
        "image_size": 512,
        "encoder_filters": [64, 128, 256, 512, 512, 512, 512, 512],
        "encoder_kernel_sizes": [7, 5, 5, 3, 3, 3, 3, 3],
        "encoder_strides": [2, 2, 2, 2, 2, 2, 2, 2],
        "encoder_first_batch_norm": False,
        "encoder_activation": "relu",
        "decoder_filters": [512, 512, 512, 512, 256, 128, 64],
        "decoder_kernel_size": 3,
        "decoder_activation": "leaky_relu",
        "skip_style": "resolution",
        "output_activation": "linear",
    },
    # Seed 001, table 1 ("network 1", test L2 0.0094 on CIFAR-10).
    "cifar_net1": {
        "image_size": 32,
        "encoder_filters": [64, 128, 256, 512],
        "encoder_kernel_sizes": [3, 3, 3, 3],
        "encoder_strides": [2, 2, 2, 2],
        "encoder_first_batch_norm": True,
        "encoder_activation": "leaky_relu",
        "decoder_filters": [512, 256, 128],
        "decoder_kernel_size": 3,
        "decoder_activation": "leaky_relu",
        "skip_style": "paired",
        "output_activation": "tanh",
    },
    # Seed 001, table 2 ("network 2", test L2 0.0023 on CIFAR-10).
    "cifar_net2": {
        "image_size": 32,
        "encoder_filters": [32, 32, 64, 64, 128, 128, 256, 256],
        "encoder_kernel_sizes": [3, 3, 3, 3, 3, 3, 3, 3],
        "encoder_strides": [1, 2, 1, 2, 1, 2, 1, 2],
        "encoder_first_batch_norm": True,
        "encoder_activation": "leaky_relu",
        "decoder_filters": [256, 128, 128, 64, 64, 32, 32],
        "decoder_kernel_size": 3,
        "decoder_activation": "leaky_relu",
        "skip_style": "paired",
        "output_activation": "tanh",
    },
}


def apply_pconv_block(
    x,
    valid,
    filters,
    kernel_size,
    strides,
    batch_norm,
    activation,
    negative_slope,
    batch_norm_momentum,
    kernel_initializer,
    name,
):
    """PartialConv2D -> optional BatchNorm -> optional activation; returns `(x, valid)`.

    The convolution has a bias only when no BatchNormalization follows (BN's
    offset replaces it).
    """
    x, valid = PartialConv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=not batch_norm,
        kernel_initializer=kernel_initializer,
        name=f"{name}_pconv",
    )([x, valid])
    if batch_norm:
        x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_bn")(x)
    if activation == "relu":
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    elif activation == "leaky_relu":
        x = keras.layers.LeakyReLU(negative_slope=negative_slope, name=f"{name}_lrelu")(x)
    return x, valid


def apply_upsample(x, valid, factor, name):
    """Nearest-neighbour upsampling of the features and of their valid mask."""
    x = keras.layers.UpSampling2D(factor, interpolation="nearest", name=f"{name}_up")(x)
    valid = keras.layers.UpSampling2D(factor, interpolation="nearest", name=f"{name}_up_mask")(
        valid
    )
    return x, valid


def apply_skip_concat(x, valid, skip, skip_valid, name):
    """Concatenate features and, channel for channel, their valid masks."""
    features = keras.layers.Concatenate(name=f"{name}_concat")([x, skip])
    masks = [
        BroadcastChannels(x.shape[-1], name=f"{name}_mask_broadcast")(valid),
        BroadcastChannels(skip.shape[-1], name=f"{name}_skip_mask_broadcast")(skip_valid),
    ]
    return features, keras.layers.Concatenate(name=f"{name}_concat_mask")(masks)


@keras.saving.register_keras_serializable(package="keras_inpaint")
class PConvUNet(PresetMixin, keras.Model):
    """A UNet of partial convolutions that fills irregular holes (Liu et al.'s generator).

    Liu et al., "Image Inpainting for Irregular Holes Using Partial
    Convolutions", ECCV 2018 (https://arxiv.org/abs/1804.07723). Inputs
    `masked_image (B, S, S, 3)` in [-1, 1] and `mask (B, S, S, 1)` with 1 =
    hole; the model converts the mask to PConv's valid mask (`1 - mask`)
    itself. Every convolution is a `PartialConv2D`, so the prediction does not
    depend on the values under the hole, and each layer's updated mask feeds
    the next: with enough layers the mask becomes all ones.

    Encoder: `len(encoder_filters)` blocks `PConv(kernel, stride) -> BN ->
    activation`. Decoder: one block per encoder block, in reverse order
    (decoder block `j` pairs with encoder block `j`). Where encoder block `j`
    downsampled (stride > 1), decoder block `j` upsamples by the same factor
    (nearest neighbour, features and mask) and concatenates a skip connection
    of features and masks; then `PConv(decoder_kernel_size, 1) -> BN ->
    LeakyReLU`. Decoder block 1 has 3 filters, no BN and no activation; the
    output activation follows.

    Skip styles:
    - `"resolution"` (Liu et al.): after upsampling, concatenate the encoder
      features of that resolution (the input of encoder block `j`; for block 1
      the input image and its mask).
    - `"paired"` (seed 001's tables): concatenate the output of encoder block
      `j` itself, upsampled with the decoder features. This is the only
      reading that gives table 1's channel counts (`512+512`: the innermost
      decoder block takes the bottleneck twice); table 2 fits both styles
      with the same parameter count, and `"paired"` keeps one rule for both.

    Presets (`preset`, every other argument overrides one entry):
    - `"liu_512"`: 512x512; encoder kernels 7,5,5,3,3,3,3,3, all stride 2,
      filters 64,128,256,512,512,512,512,512, ReLU, BN on all but the first;
      decoder filters 512,512,512,512,256,128,64,3, LeakyReLU 0.2, skip
      style `"resolution"`; linear output (the paper's last layer has no BN
      and no activation; `PConvInpainter` clips its inference composite).
      32,859,796 trainable parameters (encoder 11,656,192, decoder 21,203,604).
    - `"cifar_net2"` (seed 001 table 2, "network 2"): 32x32; 8 encoder blocks
      alternating stride 1 and 2, filters 32,32,64,64,128,128,256,256; 8
      decoder blocks, filters 256,128,128,64,64,32,32,3; BN on every block
      but the last, LeakyReLU; tanh output (the seed's sigmoid on [0, 1]
      pixels is tanh on [-1, 1]). 3,129,283 trainable parameters (encoder
      1,173,216, decoder 1,956,067).
    - `"cifar_net1"` (seed 001 table 1, "network 1"): 32x32; 4 stride-2
      blocks, filters 64,128,256,512; decoder 512,256,128,3. 8,489,347
      trainable parameters (encoder 1,551,936, decoder 6,937,411).
    The seed gives neither kernel sizes nor the LeakyReLU slope: 3x3 and 0.2
    (Liu et al.'s decoder slope) are this implementation's choice.

    `residual=True` (not in the paper) adds the network's output to the
    push-pull fill of the hole (`keras_inpaint.layers.push_pull`, the best
    classical fill on real photos) and clips to [-1, 1]; the last PConv then
    starts at zero, so the untrained UNet equals push-pull and training
    learns a correction to it, which short CPU trainings need. Use it with
    `output_activation="linear"`.

    Args:
        preset: `"liu_512"`, `"cifar_net1"` or `"cifar_net2"`.
        image_size: input side S; a multiple of the product of the strides.
        encoder_filters: filters of each encoder block.
        encoder_kernel_sizes: kernel size of each encoder block.
        encoder_strides: stride of each encoder block (1 or more).
        encoder_first_batch_norm: BN after the first encoder PConv (the
            others always have one).
        encoder_activation: `"relu"` or `"leaky_relu"`.
        decoder_filters: filters of the decoder blocks before the last
            (3-filter) one, innermost first; one fewer than encoder blocks.
        decoder_kernel_size: kernel size of every decoder PConv.
        decoder_activation: `"relu"` or `"leaky_relu"`.
        skip_style: `"resolution"` or `"paired"` (see above).
        output_activation: `"tanh"` (output in [-1, 1]) or `"linear"`.
        negative_slope: slope of the LeakyReLUs.
        batch_norm_momentum: BatchNormalization momentum (0.9 = PyTorch's 0.1).
        kernel_initializer: PConv kernel initializer (He normal: Gaussian, as
            seed 001 says, scaled for ReLU-family activations).
        freeze_encoder_batch_norm: put the encoder's BatchNormalization layers
            in inference mode (`trainable=False`: moving statistics used and
            kept, gamma and beta fixed), Liu et al.'s fine-tuning stage.
        residual: predict a correction to the push-pull fill (see above).
        **kwargs: `name`, `trainable`.

    Example:
    ```python
    generator = PConvUNet(preset="cifar_net2")
    masked_image = np.zeros((2, 32, 32, 3), "float32")
    mask = np.zeros((2, 32, 32, 1), "float32")
    mask[:, 8:24, 8:24] = 1.0
    prediction = generator([masked_image, mask])  # (2, 32, 32, 3) in [-1, 1]
    generator.submodule_params()  # {"encoder": 1173216, "decoder": 1956067}
    ```
    """

    def __init__(
        self,
        preset="liu_512",
        image_size=None,
        encoder_filters=None,
        encoder_kernel_sizes=None,
        encoder_strides=None,
        encoder_first_batch_norm=None,
        encoder_activation=None,
        decoder_filters=None,
        decoder_kernel_size=None,
        decoder_activation=None,
        skip_style=None,
        output_activation=None,
        negative_slope=0.2,
        batch_norm_momentum=0.9,
        kernel_initializer="he_normal",
        freeze_encoder_batch_norm=False,
        residual=False,
        **kwargs,
    ):
        if preset not in PRESETS:
            raise ValueError(f"`preset` must be one of {sorted(PRESETS)}; got {preset!r}.")
        given = {
            "image_size": image_size,
            "encoder_filters": encoder_filters,
            "encoder_kernel_sizes": encoder_kernel_sizes,
            "encoder_strides": encoder_strides,
            "encoder_first_batch_norm": encoder_first_batch_norm,
            "encoder_activation": encoder_activation,
            "decoder_filters": decoder_filters,
            "decoder_kernel_size": decoder_kernel_size,
            "decoder_activation": decoder_activation,
            "skip_style": skip_style,
            "output_activation": output_activation,
        }
        arch = {
            key: given[key] if given[key] is not None else PRESETS[preset][key] for key in given
        }
        _check_architecture(arch)
        size = arch["image_size"]
        enc_filters = [int(f) for f in arch["encoder_filters"]]
        enc_kernels = [int(k) for k in arch["encoder_kernel_sizes"]]
        enc_strides = [int(s) for s in arch["encoder_strides"]]
        dec_filters = [int(f) for f in arch["decoder_filters"]]
        block = {
            "negative_slope": negative_slope,
            "batch_norm_momentum": batch_norm_momentum,
            "kernel_initializer": kernel_initializer,
        }

        # === Layers ===
        # PConv's M is 1 on known pixels: the hole mask converts here, inside the model.
        to_valid = keras.layers.Rescaling(-1.0, offset=1.0, name="valid_mask")

        # === Functional Model ===
        masked_image = keras.Input(shape=(size, size, 3), name="masked_image")
        mask = keras.Input(shape=(size, size, 1), name="mask")
        x, valid = masked_image, to_valid(mask)
        encoded = [(x, valid)]
        for i, (filters, kernel, stride) in enumerate(
            zip(enc_filters, enc_kernels, enc_strides, strict=True)
        ):
            x, valid = apply_pconv_block(
                x,
                valid,
                filters,
                kernel,
                stride,
                batch_norm=i > 0 or arch["encoder_first_batch_norm"],
                activation=arch["encoder_activation"],
                name=f"encoder_block{i + 1}",
                **block,
            )
            encoded.append((x, valid))
        depth = len(enc_filters)
        for j in range(depth, 0, -1):
            name = f"decoder_block{j}"
            stride = enc_strides[j - 1]
            if stride > 1:
                x, valid = apply_upsample(x, valid, stride, name)
                if arch["skip_style"] == "resolution":
                    skip, skip_valid = encoded[j - 1]
                else:
                    skip, skip_valid = apply_upsample(*encoded[j], stride, f"{name}_skip")
                x, valid = apply_skip_concat(x, valid, skip, skip_valid, name)
            last = j == 1
            x, valid = apply_pconv_block(
                x,
                valid,
                3 if last else dec_filters[depth - j],
                arch["decoder_kernel_size"],
                1,
                batch_norm=not last,
                activation=None if last else arch["decoder_activation"],
                name=name,
                **(dict(block, kernel_initializer="zeros") if last and residual else block),
            )
        if arch["output_activation"] == "tanh":
            x = keras.layers.Activation("tanh", name="output_tanh")(x)
        if residual:
            filled = HoleFill(mode="push_pull", name="hole_fill")([masked_image, mask])
            x = ResidualComposite(name="residual_composite")([filled, x])
        kwargs.setdefault("name", "pconv_unet")
        super().__init__(inputs=[masked_image, mask], outputs=x, **kwargs)

        # === Config ===
        self.preset = preset
        self.image_size = size
        self.encoder_filters = enc_filters
        self.encoder_kernel_sizes = enc_kernels
        self.encoder_strides = enc_strides
        self.encoder_first_batch_norm = bool(arch["encoder_first_batch_norm"])
        self.encoder_activation = arch["encoder_activation"]
        self.decoder_filters = dec_filters
        self.decoder_kernel_size = int(arch["decoder_kernel_size"])
        self.decoder_activation = arch["decoder_activation"]
        self.skip_style = arch["skip_style"]
        self.output_activation = arch["output_activation"]
        self.negative_slope = negative_slope
        self.batch_norm_momentum = batch_norm_momentum
        self.kernel_initializer = kernel_initializer
        self.residual = bool(residual)
        self.freeze_encoder_batch_norm = False
        self.set_encoder_batch_norm_frozen(freeze_encoder_batch_norm)

    def encoder_batch_norm_layers(self):
        """The encoder's BatchNormalization layers, first block first."""
        return [
            layer
            for layer in self.layers
            if layer.name.startswith("encoder_")
            and isinstance(layer, keras.layers.BatchNormalization)
        ]

    def set_encoder_batch_norm_frozen(self, frozen=True):
        """Freeze (or unfreeze) the encoder's BatchNormalization layers.

        A frozen Keras 3 BatchNormalization layer runs in inference mode even in
        `fit`: it normalises with its moving statistics and leaves them, gamma
        and beta unchanged. Liu et al. fine-tune this way, because batch
        statistics mix in hole pixels. Compile again after changing it.
        """
        for layer in self.encoder_batch_norm_layers():
            layer.trainable = not frozen
        self.freeze_encoder_batch_norm = bool(frozen)

    def submodule_params(self):
        """Trainable parameter counts of the encoder and the decoder (they sum to the total)."""
        return trainable_params_by_prefix(self, ("encoder", "decoder"))

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "preset": self.preset,
            "image_size": self.image_size,
            "encoder_filters": list(self.encoder_filters),
            "encoder_kernel_sizes": list(self.encoder_kernel_sizes),
            "encoder_strides": list(self.encoder_strides),
            "encoder_first_batch_norm": self.encoder_first_batch_norm,
            "encoder_activation": self.encoder_activation,
            "decoder_filters": list(self.decoder_filters),
            "decoder_kernel_size": self.decoder_kernel_size,
            "decoder_activation": self.decoder_activation,
            "skip_style": self.skip_style,
            "output_activation": self.output_activation,
            "negative_slope": self.negative_slope,
            "batch_norm_momentum": self.batch_norm_momentum,
            "kernel_initializer": self.kernel_initializer,
            "freeze_encoder_batch_norm": self.freeze_encoder_batch_norm,
            "residual": self.residual,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_architecture(arch):
    depth = len(arch["encoder_filters"])
    if depth < 1:
        raise ValueError("`encoder_filters` needs at least one value.")
    for key in ("encoder_kernel_sizes", "encoder_strides"):
        if len(arch[key]) != depth:
            raise ValueError(
                f"`{key}` needs one value per encoder block ({depth}, like `encoder_filters`); "
                f"got {len(arch[key])}."
            )
    if len(arch["decoder_filters"]) != depth - 1:
        raise ValueError(
            f"`decoder_filters` lists the decoder blocks before the last 3-filter one: "
            f"{depth - 1} values for {depth} encoder blocks; got {len(arch['decoder_filters'])}."
        )
    if any(int(s) < 1 for s in arch["encoder_strides"]):
        raise ValueError(f"`encoder_strides` must be >= 1; got {arch['encoder_strides']}.")
    reduction = math.prod(int(s) for s in arch["encoder_strides"])
    if arch["image_size"] % reduction:
        raise ValueError(
            f"`image_size` must be a multiple of {reduction} (the product of the encoder "
            f"strides, so that the decoder's upsampling meets every skip connection); got "
            f"{arch['image_size']}."
        )
    for key, allowed in (
        ("encoder_activation", _ACTIVATIONS),
        ("decoder_activation", _ACTIVATIONS),
        ("skip_style", _SKIP_STYLES),
        ("output_activation", _OUTPUT_ACTIVATIONS),
    ):
        if arch[key] not in allowed:
            raise ValueError(f"`{key}` must be one of {allowed}; got {arch[key]!r}.")
