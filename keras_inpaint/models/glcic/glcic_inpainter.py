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
from keras_inpaint.models.inpainter import Inpainter

_GENERATOR_LOSSES = ("minimax", "non_saturating")
_REAL_PATCHES = ("random", "hole")
_RECONSTRUCTIONS = ("mse", "log_mse")


@keras.saving.register_keras_serializable(package="keras_inpaint")
class GLCICInpainter(Inpainter):
    """Trains GLCIC's completion network against its global + local discriminator.

    The schedule of the paper's algorithm 1, driven by the saved
    `step_counter` `t` (so a resumed run continues in the right phase):

    1. `t < tc`: the generator alone, on the MSE of the hole
       (`L = mean over hole pixels of (C(x, M) - x)^2`); D is not run.
    2. `tc <= t < tc + td`: the discriminator alone, binary cross-entropy
       on real images against completed ones; the generator is not updated.
    3. `t >= tc + td`: each step updates D, then the generator on
       `L + alpha * L_adv`.

    An optimizer is only applied in the phases where its network trains:
    applying one with zero gradients would still move the weights (momentum,
    weight decay) and count a step. In phases 2 and 3 the fakes D learns from
    are the generator's inference-mode output (BatchNorm moving statistics),
    so that in phase 2 no generator variable changes, BatchNorm statistics
    included; the generator's own step uses batch statistics as usual.

    D's local branch sees a patch centred on each fake's hole. For a real
    image it sees, with `real_patch="random"`, a patch of the same size at a
    uniformly random position (the paper's random mask `M_d`), or with
    `real_patch="hole"` the patch at the same place as the fake's (real and
    fake patches from the same places, no random draw).

    Logged: `g_loss` (phases 1 and 3), `rec_loss` (every step; in phase 2 of
    the frozen generator), `adv_loss` (phase 3), `d_loss` (phases 2 and 3);
    an epoch in which a term is never computed logs 0 for it.

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
        seed: seed of the random real patches.
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

    loss_names = ("g_loss", "rec_loss", "adv_loss", "d_loss")

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
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._from_logits = getattr(discriminator, "output_activation", "sigmoid") is None

    # === Schedule ===
    def phase(self, step=None):
        """The phase (1, 2 or 3, int32 tensor) of step `step` (default: the step counter)."""
        step = self.step_counter if step is None else ops.convert_to_tensor(step, "int64")
        return 1 + ops.cast(step >= self.tc, "int32") + ops.cast(step >= self.tc + self.td, "int32")

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

    def generator_losses(self, image, prediction, composite, mask, training):
        rec_loss = self.reconstruction_loss(image, prediction, mask)
        if self.discriminator is None:
            return {"g_loss": rec_loss, "rec_loss": rec_loss}
        adv_loss = self.adversarial_loss(composite, mask, training)
        g_loss = rec_loss + self.alpha * adv_loss
        return {"g_loss": g_loss, "rec_loss": rec_loss, "adv_loss": adv_loss}

    def discriminator_losses(self, image, prediction, composite, mask, training):
        real_scores = self.discriminator(
            [image, self.real_patch_mask(image, mask)], training=training
        )
        fake_scores = self.discriminator([ops.stop_gradient(composite), mask], training=training)
        d_loss = discriminator_bce(
            real_scores, fake_scores, from_logits=self._from_logits, real_label=self.real_label
        )
        return {"d_loss": d_loss}

    def real_patch_mask(self, image, mask):
        """The mask that places D's local patch on a real image (see `real_patch`)."""
        if self.real_patch == "hole":
            return mask
        size = self.discriminator.local_size
        batch_size = ops.shape(image)[0]
        height, width = image.shape[1], image.shape[2]
        top = keras.random.randint(
            (batch_size, 1), 0, height - size + 1, dtype="int32", seed=self.seed_generator
        )
        left = keras.random.randint(
            (batch_size, 1), 0, width - size + 1, dtype="int32", seed=self.seed_generator
        )
        rows = ops.arange(height, dtype="int32")[None, :]
        cols = ops.arange(width, dtype="int32")[None, :]
        in_rows = (rows >= top) & (rows < top + size)
        in_cols = (cols >= left) & (cols < left + size)
        box = ops.logical_and(in_rows[:, :, None], in_cols[:, None, :])
        return ops.cast(box, mask.dtype)[..., None]

    # === Training ===
    def train_step(self, data):
        if self.discriminator is None:
            return super().train_step(data)
        (masked_image, mask), image = data
        phase = self.phase()
        train_d = phase >= 2
        train_g = phase != 2

        d_losses, d_gradients, judged = tf.cond(
            train_d,
            lambda: self._discriminator_gradients(masked_image, mask, image),
            lambda: self._no_discriminator_step(masked_image),
        )
        self._apply_when(train_d, self.d_optimizer, d_gradients, self.discriminator)
        g_losses, g_gradients, composite = tf.cond(
            train_g,
            lambda: self._generator_gradients(masked_image, mask, image, phase == 3),
            lambda: self._frozen_generator(image, judged, mask),
        )
        self._apply_when(train_g, self.g_optimizer, g_gradients, self.generator)
        self.step_counter.assign_add(1)

        active = {"g_loss": train_g, "rec_loss": True, "adv_loss": phase == 3, "d_loss": train_d}
        batch_size = ops.cast(ops.shape(image)[0], "float32")
        for name, value in {**g_losses, **d_losses}.items():
            weight = batch_size * ops.cast(active[name], "float32")
            self.loss_trackers[name].update_state(value, sample_weight=weight)
        composite = ops.stop_gradient(composite)
        for metric in self.quality_metrics:
            metric.update_state(image, composite, mask)
        return {metric.name: metric.result() for metric in self.metrics}

    def _discriminator_gradients(self, masked_image, mask, image):
        prediction = self.generator([masked_image, mask], training=False)
        composite = self.compose(prediction, masked_image, mask)
        with tf.GradientTape() as tape:
            losses = self.discriminator_losses(image, prediction, composite, mask, training=True)
            scaled_loss = self._per_replica(losses["d_loss"])
        gradients = tape.gradient(scaled_loss, self.discriminator.trainable_variables)
        return losses, gradients, composite

    def _no_discriminator_step(self, masked_image):
        zeros = [ops.zeros_like(v) for v in self.discriminator.trainable_variables]
        return {"d_loss": ops.zeros((), "float32")}, zeros, ops.zeros_like(masked_image)

    def _generator_gradients(self, masked_image, mask, image, adversarial):
        # One gradient graph for phases 1 and 3; D only runs (and its BatchNorm
        # statistics only move) when `adversarial`, a boolean tensor, is true.
        with tf.GradientTape() as tape:
            prediction = self.generator([masked_image, mask], training=True)
            composite = self.compose(prediction, masked_image, mask)
            rec_loss = self.reconstruction_loss(image, prediction, mask)
            adv_loss = tf.cond(
                adversarial,
                lambda: self.adversarial_loss(composite, mask, training=True),
                lambda: ops.zeros(()),
            )
            g_loss = rec_loss + self.alpha * adv_loss
            scaled_loss = self._per_replica(g_loss)
        gradients = tape.gradient(scaled_loss, self.generator.trainable_variables)
        return {"g_loss": g_loss, "rec_loss": rec_loss, "adv_loss": adv_loss}, gradients, composite

    def _frozen_generator(self, image, composite, mask):
        zeros = [ops.zeros_like(v) for v in self.generator.trainable_variables]
        losses = {
            "g_loss": ops.zeros(()),
            "rec_loss": self.reconstruction_loss(image, composite, mask),
            "adv_loss": ops.zeros(()),
        }
        return losses, zeros, composite

    def _apply_when(self, active, optimizer, gradients, network):
        """Apply `optimizer` to `network` only where `active` (a boolean tensor) is true.

        On one device this is a `tf.cond`. Under a strategy that aggregates
        gradients with `merge_call` (MirroredStrategy), `apply_gradients`
        cannot run inside a replica's `tf.cond`, so the condition moves to the
        cross-replica context and each replica applies its gradients from
        there, the pattern of Keras's LossScaleOptimizer.
        """
        variables = network.trainable_variables

        def apply(grads):
            optimizer.apply_gradients(zip(grads, variables, strict=True))

        if tf.distribute.has_strategy() and (
            not tf.__internal__.distribute.strategy_supports_no_merge_call()
        ):

            def cross_replica(strategy, active, gradients):
                # Every replica computed the same phase from the same step counter.
                first = strategy.experimental_local_results(active)[0]
                tf.cond(
                    first,
                    lambda: strategy.extended.call_for_each_replica(apply, args=(gradients,)),
                    lambda: None,
                )

            tf.distribute.get_replica_context().merge_call(cross_replica, args=(active, gradients))
        else:
            tf.cond(active, lambda: apply(gradients), lambda: None)

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
