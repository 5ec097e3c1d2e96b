"""PEPSI's joint training of the coarse and inpainting paths with a hinge-loss RED discriminator.

Sagong et al., "PEPSI: Fast Image Inpainting with Parallel Decoding Network",
CVPR 2019, https://arxiv.org/abs/1901.03396, section 3.4.
"""

import keras
from keras import ops

from keras_inpaint.losses import discriminator_hinge, generator_hinge
from keras_inpaint.models.inpainter import Inpainter


def _l1(y_true, y_pred):
    return ops.mean(ops.abs(ops.cast(y_true, "float32") - ops.cast(y_pred, "float32")))


@keras.saving.register_keras_serializable(package="keras_inpaint")
class PEPSIInpainter(Inpainter):
    """Trains a `PEPSIGenerator`'s two paths and a RED discriminator.

    Generator (k = the step counter, saved with the model, so a resumed run
    continues the schedule):

        L_G     = lambda_i * L1(inpainted, image) - lambda_adv * E[D(composite)]
        L_total = L_G + lambda_c * max(0, 1 - k / k_max) * L1(coarse, image)

    L1 is the mean absolute error over the whole image, as in the paper; the
    coarse path's weight falls linearly from `lambda_c` at step 0 to 0 at
    `k_max = coarse_decay_steps` and stays 0. Each generator step runs the
    generator's `training_model` (encoder once, the shared decoder on both
    paths); inference, `predict`, evaluation metrics and the export run only
    encoder -> CAM -> decoder. The discriminator (RED, raw scores) minimises
    the hinge loss on the real image against the composite; the generator
    step reads it with `training=False`, so only the discriminator's own
    step updates its spectral-norm state. Without a discriminator the
    generator trains on the two L1 terms alone.

    Reference values (the paper's code): lambda_i 10, lambda_adv 0.1,
    lambda_c 5; Adam with D learning rate 4e-4, G 1e-4, betas (0.5, 0.9)
    (set in `compile`, e.g. by a recipe).

    Logged: `g_loss` (L_total), `l1_loss`, `coarse_l1_loss`, `coarse_weight`
    and, with a discriminator, `adv_loss` (-E[D(composite)]) and `d_loss`.

    Args:
        generator: a `PEPSIGenerator` (anything with a `training_model`
            returning `[coarse, inpainted]`).
        discriminator: a `REDDiscriminator` or None.
        lambda_i: weight of the inpainting path's L1.
        lambda_adv: weight of the adversarial term.
        lambda_c: initial weight of the coarse path's L1.
        coarse_decay_steps: k_max, the step at which the coarse weight reaches 0.
        **kwargs: passed to `Inpainter`.

    Example:
        >>> from keras_inpaint.models.pepsi import PEPSIGenerator, REDDiscriminator
        >>> model = PEPSIInpainter(
        ...     PEPSIGenerator(image_size=32, filters=4),
        ...     REDDiscriminator(image_size=32, filters=[8, 8, 8]),
        ...     coarse_decay_steps=1000)
        >>> model.compile(keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
        ...               keras.optimizers.Adam(4e-4, beta_1=0.5, beta_2=0.9))
        >>> float(model.coarse_weight(250))
        3.75
    """

    generator_loss_names = ("g_loss", "l1_loss", "coarse_l1_loss", "coarse_weight")
    adversarial_loss_names = ("adv_loss",)

    def __init__(
        self,
        generator,
        discriminator=None,
        lambda_i=10.0,
        lambda_adv=0.1,
        lambda_c=5.0,
        coarse_decay_steps=100000,
        **kwargs,
    ):
        if not hasattr(generator, "training_model"):
            raise ValueError(
                f"PEPSIInpainter needs a generator with a `training_model` (coarse and "
                f"inpainting paths), such as PEPSIGenerator; got {type(generator).__name__}."
            )
        if coarse_decay_steps < 1:
            raise ValueError(f"`coarse_decay_steps` must be >= 1; got {coarse_decay_steps}.")
        super().__init__(generator, discriminator, **kwargs)
        self.lambda_i = float(lambda_i)
        self.lambda_adv = float(lambda_adv)
        self.lambda_c = float(lambda_c)
        self.coarse_decay_steps = int(coarse_decay_steps)

    def coarse_weight(self, step):
        """`lambda_c * max(0, 1 - step / k_max)`: the coarse L1's weight at a training step."""
        progress = ops.cast(step, "float32") / float(self.coarse_decay_steps)
        return self.lambda_c * ops.clip(1.0 - progress, 0.0, 1.0)

    # === Losses ===
    def generator_outputs(self, masked_image, mask, training):
        # The training model runs the encoder once and the shared decoder on both paths.
        coarse, prediction = self.generator.training_model([masked_image, mask], training=training)
        return {"prediction": prediction, "coarse": coarse}

    def generator_losses(
        self, image, prediction, composite, mask, training, adversarial=True, *, coarse
    ):
        """The terms of L_total; `coarse` is the coarse path's output (`generator_outputs`)."""
        l1_loss = _l1(image, prediction)
        coarse_l1_loss = _l1(image, coarse)
        coarse_weight = self.coarse_weight(self.step_counter)
        g_loss = self.lambda_i * l1_loss
        losses = {"l1_loss": l1_loss, "coarse_l1_loss": coarse_l1_loss}
        if self.discriminator is not None:
            adv_loss = self.adversarial_term(
                adversarial,
                lambda: generator_hinge(self.discriminator(composite, training=False)),
            )
            g_loss = g_loss + self.lambda_adv * adv_loss
            losses["adv_loss"] = adv_loss
        losses["g_loss"] = g_loss + coarse_weight * coarse_l1_loss
        losses["coarse_weight"] = coarse_weight
        return losses

    def discriminator_losses(self, image, prediction, composite, mask, training):
        real_scores = self.discriminator(image, training=training)
        fake_scores = self.discriminator(ops.stop_gradient(composite), training=training)
        return {"d_loss": discriminator_hinge(real_scores, fake_scores)}

    # === Config ===
    def get_config(self):
        config = super().get_config()
        config.update(
            lambda_i=self.lambda_i,
            lambda_adv=self.lambda_adv,
            lambda_c=self.lambda_c,
            coarse_decay_steps=self.coarse_decay_steps,
        )
        return config
