"""GLCIC's training: hole MSE, then the discriminator alone, then both, switched by the step count.

Iizuka, Simo-Serra, Ishikawa, "Globally and Locally Consistent Image
Completion", SIGGRAPH 2017, https://doi.org/10.1145/3072959.3073659
(algorithm 1).
"""

import keras
import tensorflow as tf
from keras import ops

from keras_inpaint.losses import (
    discriminator_bce,
    generator_bce,
    generator_minimax_bce,
    hole_log_l2,
    masked_l2,
)
from keras_inpaint.models.inpainter import Inpainter, TrainingSchedule

_GENERATOR_LOSSES = ("minimax", "non_saturating")
_REAL_PATCHES = ("random", "hole")
_RECONSTRUCTIONS = ("mse", "log_mse")


@keras.saving.register_keras_serializable(package="keras_inpaint")
class GLCICInpainter(Inpainter):
    """Trains GLCIC's completion network against its global + local discriminator.

    The schedule of the paper's algorithm 1 (`train_schedule`, run by
    `Inpainter.train_step`), driven by the saved `step_counter` `t` (so a
    resumed run continues in the right phase):

    1. `t < tc`: the generator alone, on the MSE of the hole
       (`L = mean over hole pixels of (C(x, M) - x)^2`); D is not run.
    2. `tc <= t < tc + td`: the discriminator alone, binary cross-entropy
       on real images against completed ones; the generator is not updated.
    3. `t >= tc + td`: each step updates D, then the generator on
       `L + alpha * L_adv`.

    An optimizer is only applied in the phases where its network trains
    (`Inpainter.train_step`), so each counts only its own steps. In phases 2
    and 3 the fakes D learns from are the generator's inference-mode output
    (BatchNorm moving statistics), so that in phase 2 no generator variable
    changes, BatchNorm statistics included; the generator's own step uses
    batch statistics as usual. Phase 3 therefore runs the generator twice
    (`shares_generator_pass` is False).

    D's local branch sees a patch centred on each fake's hole. For a real
    image it sees, with `real_patch="random"`, a patch of the same size at a
    uniformly random position (the paper's random mask `M_d`), or with
    `real_patch="hole"` the patch at the same place as the fake's (real and
    fake patches from the same places, no random draw).

    Logged: `g_loss` (phases 1 and 3), `rec_loss` (every step; in phase 2 of
    the frozen generator), `adv_loss` (phase 3), `d_loss` (phases 2 and 3);
    an epoch in which a term is never computed logs 0 for it. Without a
    discriminator only `g_loss` and `rec_loss` are logged.

    Args:
        generator: a `GLCICGenerator` (or any zoo generator).
        discriminator: a `GLCICDiscriminator` (inputs `[image, mask]`, a
            `local_size` attribute); None trains phase 1 forever.
        tc: steps of phase 1 (paper 90,000; seed 003 9,000).
        td: steps of phase 2 (paper 10,000; seed 003 1,000).
        alpha: weight of the adversarial term in phase 3 (0.0004).
        generator_loss: `"minimax"`, the paper's `log(1 - D(C(x)))`, or
            `"non_saturating"`, `-log D(C(x))` (seed 003, Goodfellow et al.).
        real_label: D's target for real images; below 1 is one-sided label
            smoothing (seed 003: 0.75).
        real_patch: `"random"` or `"hole"`, where D's local branch looks on
            real images (see above).
        seed: int or None (0), the first half of the stateless seeds of the
            random real patches; the second half is drawn from the saved step
            counter, so a resumed run continues the sequence of patches.
        reconstruction: `"mse"`, the paper's hole MSE, or `"log_mse"`, the mean
            over images of log10 of each image's hole MSE
            (`keras_inpaint.losses.hole_log_l2`: maximises the mean per-image
            PSNR; not in the paper, the default preset's choice).
        **kwargs: passed to `Inpainter`.

    Example:
        >>> from keras_inpaint.models.glcic import GLCICDiscriminator, GLCICGenerator
        >>> generator = GLCICGenerator(image_size=32, base_filters=8)
        >>> discriminator = GLCICDiscriminator(
        ...     image_size=32, local_size=16, global_filters=[8, 16, 16],
        ...     local_filters=[8, 16], fc_units=32)
        >>> model = GLCICInpainter(generator, discriminator, tc=2, td=2)
        >>> model.compile(keras.optimizers.Adadelta(1.0), keras.optimizers.Adadelta(1.0))
    """

    generator_loss_names = ("g_loss", "rec_loss")
    adversarial_loss_names = ("adv_loss",)
    # D's fakes are the inference-mode output (`discriminator_fakes`), not the training-mode
    # pass of the generator's step, so phase 3 runs the generator twice.
    shares_generator_pass = False

    def __init__(
        self,
        generator,
        discriminator=None,
        tc=90000,
        td=10000,
        alpha=0.0004,
        generator_loss="minimax",
        real_label=1.0,
        real_patch="random",
        seed=None,
        reconstruction="mse",
        **kwargs,
    ):
        super().__init__(generator, discriminator, **kwargs)
        if reconstruction not in _RECONSTRUCTIONS:
            raise ValueError(
                f"`reconstruction` must be one of {_RECONSTRUCTIONS}; got {reconstruction!r}."
            )
        if int(tc) < 0 or int(td) < 0:
            raise ValueError(f"`tc` and `td` are step counts >= 0; got tc={tc}, td={td}.")
        if generator_loss not in _GENERATOR_LOSSES:
            raise ValueError(
                f"`generator_loss` must be one of {_GENERATOR_LOSSES}; got {generator_loss!r}."
            )
        if not 0.0 < real_label <= 1.0:
            raise ValueError(f"`real_label` must be in (0, 1]; got {real_label}.")
        if real_patch not in _REAL_PATCHES:
            raise ValueError(f"`real_patch` must be one of {_REAL_PATCHES}; got {real_patch!r}.")
        if discriminator is not None and real_patch == "random":
            if not hasattr(discriminator, "local_size"):
                raise ValueError(
                    "real_patch='random' crops a patch of the discriminator's `local_size`; "
                    f"{type(discriminator).__name__} has none (use a GLCICDiscriminator)."
                )
        self.tc = int(tc)
        self.td = int(td)
        self.alpha = alpha
        self.generator_loss = generator_loss
        self.real_label = real_label
        self.real_patch = real_patch
        self.seed = seed
        self.reconstruction = reconstruction
        self._from_logits = getattr(discriminator, "output_activation", "sigmoid") is None

    # === Schedule ===
    def phase(self, step=None):
        """The phase (1, 2 or 3, int32 tensor) of step `step` (default: the step counter)."""
        step = self.step_counter if step is None else ops.convert_to_tensor(step, "int64")
        return 1 + ops.cast(step >= self.tc, "int32") + ops.cast(step >= self.tc + self.td, "int32")

    def train_schedule(self, step):
        """Phase 1 trains G alone, phase 2 D alone, phase 3 both with the adversarial term."""
        if self.discriminator is None:
            return super().train_schedule(step)
        phase = self.phase(step)
        return TrainingSchedule(
            train_generator=phase != 2, train_discriminator=phase >= 2, adversarial=phase == 3
        )

    # === Losses ===
    def reconstruction_loss(self, image, prediction, mask):
        """Mean squared error over the hole pixels (the paper's weighted MSE), or its log."""
        if self.reconstruction == "log_mse":
            return hole_log_l2(image, prediction, mask)
        return masked_l2(image, prediction, mask, overlap_width=0)

    def adversarial_loss(self, composite, mask, training):
        """The generator's GAN term on D's score of the completed images."""
        fake_scores = self.discriminator([composite, mask], training=training)
        if self.generator_loss == "minimax":
            return generator_minimax_bce(fake_scores, from_logits=self._from_logits)
        return generator_bce(fake_scores, from_logits=self._from_logits)

    def generator_losses(self, image, prediction, composite, mask, training, adversarial=True):
        rec_loss = self.reconstruction_loss(image, prediction, mask)
        if self.discriminator is None:
            return {"g_loss": rec_loss, "rec_loss": rec_loss}
        # D only runs (and its BatchNorm statistics only move) where `adversarial`.
        adv_loss = self.adversarial_term(
            adversarial, lambda: self.adversarial_loss(composite, mask, training)
        )
        g_loss = rec_loss + self.alpha * adv_loss
        return {"g_loss": g_loss, "rec_loss": rec_loss, "adv_loss": adv_loss}

    def frozen_generator_losses(self, image, composite, mask):
        """Phase 2 logs the hole error of the frozen generator's output that D judged."""
        return {"rec_loss": self.reconstruction_loss(image, composite, mask)}

    def discriminator_losses(self, image, prediction, composite, mask, training):
        real_scores = self.discriminator(
            [image, self.real_patch_mask(image, mask)], training=training
        )
        fake_scores = self.discriminator([ops.stop_gradient(composite), mask], training=training)
        d_loss = discriminator_bce(
            real_scores, fake_scores, from_logits=self._from_logits, real_label=self.real_label
        )
        return {"d_loss": d_loss}

    def discriminator_fakes(self, masked_image, mask):
        # Inference mode, so that in phase 2 no generator variable changes.
        prediction = self.generator([masked_image, mask], training=False)
        return prediction, self.compose(prediction, masked_image, mask)

    def real_patch_mask(self, image, mask):
        """The mask that places D's local patch on a real image (see `real_patch`)."""
        if self.real_patch == "hole":
            return mask
        size = self.discriminator.local_size
        batch_size = ops.shape(image)[0]
        height, width = image.shape[1], image.shape[2]
        # Seeds [seed, 2t] and [seed, 2t + 1] at step t: nothing but the step counter changes.
        step = ops.cast(self.step_counter, "int64")
        seed = ops.convert_to_tensor(self.seed or 0, "int64")

        def draw(offset, high):
            stateless_seed = ops.stack([seed, 2 * step + offset])
            return tf.random.stateless_uniform(
                (batch_size, 1), stateless_seed, minval=0, maxval=high, dtype="int32"
            )

        top = draw(0, height - size + 1)
        left = draw(1, width - size + 1)
        rows = ops.arange(height, dtype="int32")[None, :]
        cols = ops.arange(width, dtype="int32")[None, :]
        in_rows = (rows >= top) & (rows < top + size)
        in_cols = (cols >= left) & (cols < left + size)
        box = ops.logical_and(in_rows[:, :, None], in_cols[:, None, :])
        return ops.cast(box, mask.dtype)[..., None]

    # === Config ===
    def get_config(self):
        config = super().get_config()
        config.update(
            tc=self.tc,
            td=self.td,
            alpha=self.alpha,
            generator_loss=self.generator_loss,
            real_label=self.real_label,
            real_patch=self.real_patch,
            seed=self.seed,
            reconstruction=self.reconstruction,
        )
        return config
