"""Context Encoders' joint training: masked L2 with an overlap band plus an adversarial term.

Pathak et al., "Context Encoders: Feature Learning by Inpainting", CVPR 2016,
https://arxiv.org/abs/1604.07379 (reference code: github.com/pathak22/context-encoder).
"""

import keras
from keras import ops

from keras_inpaint.losses import (
    discriminator_bce,
    generator_bce,
    hole_log_l2,
    inner_band_weights,
    masked_l2,
    weighted_l2,
)
from keras_inpaint.models.inpainter import Inpainter

_RECONSTRUCTIONS = ("overlap_l2", "log_mse")
_OVERLAP_SIDES = ("outside", "inside")


@keras.saving.register_keras_serializable(package="keras_inpaint")
class ContextEncoderInpainter(Inpainter):
    """Trains a Context Encoder generator with `lambda_rec * L_rec + lambda_adv * L_adv`.

    `L_rec` is the masked mean squared error in which known pixels within
    `overlap_width` px of the hole weigh `overlap_weight` times more (paper:
    7 px, reference code: 4 px, weight 10). With `overlap_side="inside"` the
    band is the hole's own `overlap_width`-px border instead (seed 004's
    reading, for a generator that predicts exactly the hole: its 32x32 centre
    of a 64x64 image, 7 px, weight 10), found on the whole image's mask.
    `L_adv` is the non-saturating BCE on D(fake) (the reference code's choice;
    seed 004 section 2.5.4); the
    discriminator minimises BCE on real and fake. Without a discriminator the
    generator trains on `L_rec` alone (the paper's AlexNet-encoder setting).

    Logged: `g_loss`, `rec_loss` and, with a discriminator, `adv_loss` and
    `d_loss`.

    What the discriminator sees follows the generator: for a centre-region
    generator, the real centre region against the predicted region (as in the
    reference code); for a full-image generator, the real image against the
    composite (any zoo discriminator, PatchGAN included).

    `reconstruction="log_mse"` (not in the paper; the presets' loss, as
    GLCIC's) replaces `L_rec` by the mean over images of log10 of each image's
    hole MSE (`keras_inpaint.losses.hole_log_l2`), which maximises the mean
    per-image hole PSNR; the overlap band is then not used.

    Args:
        generator: a `ContextEncoderGenerator` (or any zoo generator).
        discriminator: optional discriminator on regions or whole images
            (sigmoid output, e.g. `DCGANDiscriminator`, `PatchGANDiscriminator`).
        lambda_rec: weight of the reconstruction loss (0.999).
        lambda_adv: weight of the adversarial loss (0.001).
        overlap_width: width in pixels of the overlap band around the hole.
        overlap_weight: weight of the band's squared errors (10).
        overlap_side: `"outside"` (known pixels around the hole) or `"inside"`
            (the hole's border).
        reconstruction: `"overlap_l2"` (the paper's `L_rec`) or `"log_mse"`.

    Example:
        >>> from keras_inpaint.models.context_encoder import (
        ...     ContextEncoderGenerator, DCGANDiscriminator)
        >>> generator = ContextEncoderGenerator(
        ...     image_size=32, variant="center", encoder_filters=[8, 8, 8],
        ...     bottleneck=16, decoder_filters=[8, 8])
        >>> model = ContextEncoderInpainter(
        ...     generator, DCGANDiscriminator(image_size=16, filters=[8, 8]))
        >>> model.compile(keras.optimizers.Adam(2e-3), keras.optimizers.Adam(2e-4))
    """

    generator_loss_names = ("g_loss", "rec_loss")
    adversarial_loss_names = ("adv_loss",)

    def __init__(
        self,
        generator,
        discriminator=None,
        lambda_rec=0.999,
        lambda_adv=0.001,
        overlap_width=4,
        overlap_weight=10.0,
        reconstruction="overlap_l2",
        overlap_side="outside",
        **kwargs,
    ):
        if reconstruction not in _RECONSTRUCTIONS:
            raise ValueError(
                f"reconstruction={reconstruction!r}: use one of {', '.join(_RECONSTRUCTIONS)}."
            )
        if overlap_side not in _OVERLAP_SIDES:
            raise ValueError(
                f"overlap_side={overlap_side!r}: use one of {', '.join(_OVERLAP_SIDES)}."
            )
        super().__init__(generator, discriminator, **kwargs)
        self.reconstruction = reconstruction
        self.lambda_rec = lambda_rec
        self.lambda_adv = lambda_adv
        self.overlap_width = overlap_width
        self.overlap_weight = overlap_weight
        self.overlap_side = overlap_side

    def _center_crop(self, tensor, like):
        top = (tensor.shape[1] - like.shape[1]) // 2
        left = (tensor.shape[2] - like.shape[2]) // 2
        return tensor[:, top : top + like.shape[1], left : left + like.shape[2], :]

    def _discriminator_pair(self, image, prediction, composite):
        if prediction.shape[1:3] != image.shape[1:3]:
            return self._center_crop(image, prediction), prediction
        return image, composite

    def reconstruction_loss(self, image, prediction, mask):
        """`L_rec` on the generator's output region (the whole image or the centre)."""
        if self.reconstruction == "overlap_l2" and self.overlap_side == "inside":
            weights = inner_band_weights(mask, self.overlap_width, self.overlap_weight)
            return weighted_l2(
                self._center_crop(image, prediction),
                prediction,
                self._center_crop(weights, prediction),
            )
        image = self._center_crop(image, prediction)
        mask = self._center_crop(mask, prediction)
        if self.reconstruction == "log_mse":
            return hole_log_l2(image, prediction, mask)
        return masked_l2(
            image,
            prediction,
            mask,
            overlap_width=self.overlap_width,
            overlap_weight=self.overlap_weight,
        )

    def generator_losses(self, image, prediction, composite, mask, training, adversarial=True):
        rec_loss = self.reconstruction_loss(image, prediction, mask)
        if self.discriminator is None:
            return {"g_loss": rec_loss, "rec_loss": rec_loss}
        _, fake = self._discriminator_pair(image, prediction, composite)
        adv_loss = self.adversarial_term(
            adversarial, lambda: generator_bce(self.discriminator(fake, training=training))
        )
        g_loss = self.lambda_rec * rec_loss + self.lambda_adv * adv_loss
        return {"g_loss": g_loss, "rec_loss": rec_loss, "adv_loss": adv_loss}

    def discriminator_losses(self, image, prediction, composite, mask, training):
        real, fake = self._discriminator_pair(image, prediction, composite)
        real_scores = self.discriminator(real, training=training)
        fake_scores = self.discriminator(ops.stop_gradient(fake), training=training)
        return {"d_loss": discriminator_bce(real_scores, fake_scores)}

    def get_config(self):
        config = super().get_config()
        config.update(
            lambda_rec=self.lambda_rec,
            lambda_adv=self.lambda_adv,
            overlap_width=self.overlap_width,
            overlap_weight=self.overlap_weight,
            reconstruction=self.reconstruction,
            overlap_side=self.overlap_side,
        )
        return config
