"""Training the partial-convolution UNet: seed 001's L2 loss or Liu et al.'s full loss.

Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions",
ECCV 2018, https://arxiv.org/abs/1804.07723.
"""

import keras
import tensorflow as tf
from keras import ops

from keras_inpaint.losses.perceptual import VGG16Features, perceptual_loss, style_loss
from keras_inpaint.losses.reconstruction import hole_l1, hole_log_l2, total_variation, valid_l1
from keras_inpaint.models.inpainter import Inpainter
from keras_inpaint.models.pconv_unet.initial_weights import load_generator_weights

_LIU_TERMS = (
    "valid_loss",
    "hole_loss",
    "perceptual_loss",
    "style_out_loss",
    "style_comp_loss",
    "tv_loss",
)
# The terms each objective's `generator_losses` returns, all logged.
_OBJECTIVE_TERMS = {
    "liu": ("g_loss", "l2_loss", *_LIU_TERMS),
    "l2": ("g_loss", "l2_loss"),
    "log_mse": ("g_loss", "l2_loss", "rec_loss"),
}
_OBJECTIVES = tuple(_OBJECTIVE_TERMS)


@keras.saving.register_keras_serializable(package="keras_inpaint")
class PConvInpainter(Inpainter):
    """Trains a `PConvUNet` (no discriminator) on Liu et al.'s loss or seed 001's L2 loss.

    `objective="liu"` (the paper, section 3.1), with `I_out` the prediction,
    `I_comp` the composite (known pixels from the input, hole from `I_out`)
    and `I_gt` the ground truth, all in [-1, 1]:

        L = valid_weight * L_valid + hole_weight * L_hole
          + perceptual_weight * L_perceptual
          + style_weight * (L_style_out + L_style_comp) + tv_weight * L_tv

    with the paper's weights 1, 6, 0.05, 120, 0.1. `L_valid` and `L_hole` are
    the size-averaged L1 errors of `I_out` on the known and hole pixels
    (divided by `H * W * C`, `keras_inpaint.losses.valid_l1` / `hole_l1`);
    `L_perceptual` sums the feature L1 of `I_out` and of `I_comp` against
    `I_gt` on VGG16 pool1..pool3; `L_style_*` the Gram-matrix L1 of `I_out`
    and of `I_comp`; `L_tv` the total variation of `I_comp` on the one-pixel
    dilation of the hole (`keras_inpaint.losses.perceptual` and
    `reconstruction`). The VGG16 runs on `I_gt`, `I_out` and `I_comp` stacked
    in one batch.

    `objective="l2"` (seed 001): the mean squared error between the whole
    predicted image and the ground truth, in [0, 1] pixel units (the seed's
    images were in [0, 1]): `mean(((I_out - I_gt) / 2)^2)`. Both objectives
    log it as `l2_loss`, so `val_l2_loss` is the seed's test loss.

    `objective="log_mse"` (not in the paper; the presets' loss, as GLCIC's
    `reconstruction="log_mse"`): the mean over images of log10 of each
    image's hole MSE (`keras_inpaint.losses.hole_log_l2`), which maximises
    the mean per-image hole PSNR and needs no VGG16. Logged as `rec_loss`.

    VGG16 (`objective="liu"` only) is built by `compile`, which fails at once
    if the weights are missing (see `keras_inpaint.losses.perceptual`). It is
    not part of the model's weights: checkpoints and exports do not carry it,
    and reloading a `.keras` file (inference, export) does not need it; a
    reloaded model builds it on its first training step.

    Liu et al. train in two stages: learning rate 2e-4 with BatchNormalization
    everywhere, then 5e-5 with the encoder's BatchNormalization frozen
    (`freeze_encoder_batch_norm=True`), starting from the first stage's
    weights (`initial_weights`).

    Calling the model returns the composite clipped to [-1, 1] (the paper's
    generator has a linear output).

    Args:
        generator: a `PConvUNet` (or any generator with inputs `[masked_image, mask]`).
        discriminator: must be None; accepted because recipes pass it.
        objective: `"liu"`, `"l2"` or `"log_mse"`.
        valid_weight, hole_weight, perceptual_weight, style_weight, tv_weight:
            the weights of Liu et al.'s terms.
        vgg_weights: `"imagenet"` (the Keras cache, never downloaded), a path
            to the VGG16 "notop" weights file, or None (random VGG16: tests only).
        freeze_encoder_batch_norm: freeze the generator's encoder
            BatchNormalization layers (calls
            `generator.set_encoder_batch_norm_frozen`).
        initial_weights: a training run directory or `.keras` file whose
            generator weights are copied into `generator` when the wrapper is
            created (`load_generator_weights`). A one-time initialisation: it
            is not part of `get_config()`, so a saved model reloads from its
            own weights without the first stage's files.

    Example:
        >>> from keras_inpaint.models.pconv_unet import PConvUNet
        >>> model = PConvInpainter(PConvUNet(preset="cifar_net2"), objective="l2")
        >>> model.compile(g_optimizer=keras.optimizers.Adam(1e-3))
    """

    def __init__(
        self,
        generator,
        discriminator=None,
        objective="liu",
        valid_weight=1.0,
        hole_weight=6.0,
        perceptual_weight=0.05,
        style_weight=120.0,
        tv_weight=0.1,
        vgg_weights="imagenet",
        freeze_encoder_batch_norm=False,
        initial_weights=None,
        **kwargs,
    ):
        if discriminator is not None:
            raise ValueError(
                "PConvInpainter trains without a discriminator (Liu et al.'s loss has no "
                "adversarial term); remove the recipe's 'discriminator'."
            )
        if objective not in _OBJECTIVES:
            raise ValueError(f"`objective` must be one of {_OBJECTIVES}; got {objective!r}.")
        kwargs.setdefault("name", "pconv_inpainter")
        # Set first: the base makes a loss tracker for each of the objective's terms.
        self.objective = objective
        super().__init__(generator, None, **kwargs)
        self.valid_weight = valid_weight
        self.hole_weight = hole_weight
        self.perceptual_weight = perceptual_weight
        self.style_weight = style_weight
        self.tv_weight = tv_weight
        self.vgg_weights = vgg_weights
        self.freeze_encoder_batch_norm = freeze_encoder_batch_norm
        # A plain object, not a Keras layer, so VGG16's weights stay out of checkpoints.
        self._vgg_features = None
        if freeze_encoder_batch_norm:
            generator.set_encoder_batch_norm_frozen(True)
        if initial_weights is not None:
            try:
                load_generator_weights(generator, initial_weights)
            except FileNotFoundError as error:
                raise FileNotFoundError(
                    f"initial_weights={initial_weights!r}: {error} Train the first stage first "
                    "(e.g. `keras-inpaint train --recipe pconv_unet/places2_512_stage1`) or point "
                    "initial_weights at its run directory."
                ) from None

    @property
    def generator_loss_names(self):
        """The objective's terms: `g_loss`, `l2_loss` and its own (see the class)."""
        return _OBJECTIVE_TERMS[self.objective]

    # === Compile ===
    def compile(self, g_optimizer, d_optimizer=None, **kwargs):
        super().compile(g_optimizer, d_optimizer, **kwargs)
        if self.objective == "liu":
            self.vgg_features()

    def compile_from_config(self, config):
        # Reloading a .keras file must not need the VGG16 weights file: skip building it.
        optimizers = {key: keras.optimizers.deserialize(value) for key, value in config.items()}
        Inpainter.compile(self, **optimizers)

    def vgg_features(self):
        """The `VGG16Features` of the perceptual and style losses, built on first use."""
        if self._vgg_features is None:
            # Built outside any traced train step, so its weights load once, eagerly.
            with tf.init_scope():
                self._vgg_features = VGG16Features(weights=self.vgg_weights)
        return self._vgg_features

    # === Inference ===
    def call(self, inputs, training=False):
        return ops.clip(super().call(inputs, training=training), -1.0, 1.0)

    # === Losses ===
    def generator_losses(self, image, prediction, composite, mask, training, adversarial=False):
        # No adversarial term: `adversarial` is False, the model having no discriminator.
        image = ops.cast(image, "float32")
        prediction = ops.cast(prediction, "float32")
        composite = ops.cast(composite, "float32")
        l2_loss = ops.mean(ops.square((prediction - image) * 0.5))
        if self.objective == "l2":
            return {"g_loss": l2_loss, "l2_loss": l2_loss}
        if self.objective == "log_mse":
            rec_loss = hole_log_l2(image, prediction, mask)
            return {"g_loss": rec_loss, "l2_loss": l2_loss, "rec_loss": rec_loss}
        batch = ops.shape(image)[0]
        features = self.vgg_features()(ops.concatenate([image, prediction, composite], axis=0))
        true = [ops.stop_gradient(f[:batch]) for f in features]
        out = [f[batch : 2 * batch] for f in features]
        comp = [f[2 * batch :] for f in features]
        terms = {
            "valid_loss": valid_l1(image, prediction, mask),
            "hole_loss": hole_l1(image, prediction, mask),
            "perceptual_loss": perceptual_loss(true, out) + perceptual_loss(true, comp),
            "style_out_loss": style_loss(true, out),
            "style_comp_loss": style_loss(true, comp),
            "tv_loss": total_variation(composite, mask),
        }
        g_loss = (
            self.valid_weight * terms["valid_loss"]
            + self.hole_weight * terms["hole_loss"]
            + self.perceptual_weight * terms["perceptual_loss"]
            + self.style_weight * (terms["style_out_loss"] + terms["style_comp_loss"])
            + self.tv_weight * terms["tv_loss"]
        )
        return {"g_loss": g_loss, "l2_loss": l2_loss, **terms}

    # === Config ===
    def get_config(self):
        config = super().get_config()
        config.update(
            objective=self.objective,
            valid_weight=self.valid_weight,
            hole_weight=self.hole_weight,
            perceptual_weight=self.perceptual_weight,
            style_weight=self.style_weight,
            tv_weight=self.tv_weight,
            vgg_weights=self.vgg_weights,
            freeze_encoder_batch_norm=self.freeze_encoder_batch_norm,
        )
        return config
