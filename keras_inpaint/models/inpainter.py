"""The training base of every zoo entry: a generator, an optional discriminator, one `fit`.

Each paper's wrapper subclasses `Inpainter` and fills in hooks: its losses
(`generator_losses`, `discriminator_losses`), the loss terms it logs
(`generator_loss_names`, `adversarial_loss_names`, `discriminator_loss_names`)
and, where the paper has one, its schedule (`train_schedule`). The base owns
the training step and what is common: composing the output with the known
pixels, the two optimizers, distribution-aware loss scaling, a step counter
that is saved with the weights (so schedules survive a resume), loss trackers
and image-quality metrics.

Batches are `((masked_image, mask), image)` in [-1, 1], mask 1 = hole (see
docs/ARCHITECTURE.md). A model built with `step_masks` (a mask spec) trains
on batches of images alone and draws each batch's masks inside `train_step`,
on the device that runs the step, from a stateless seed that a draw counter
saved with its weights advances (so a resumed run continues the same
sequence of masks).

Example:
    >>> from keras_inpaint.models.context_encoder import (
    ...     ContextEncoderGenerator, ContextEncoderInpainter)
    >>> generator = ContextEncoderGenerator(
    ...     image_size=32, variant="full", encoder_filters=[8, 8, 8],
    ...     bottleneck=16, decoder_filters=[8, 8, 8])
    >>> ContextEncoderInpainter(generator).loss_names
    ('g_loss', 'rec_loss')
"""

from typing import NamedTuple

import keras
import tensorflow as tf
from keras import ops

from keras_inpaint.data import masks
from keras_inpaint.metrics import PSNR, MeanL1


class TrainingSchedule(NamedTuple):
    """What one training step runs: three boolean scalars, tensors or Python bools.

    Attributes:
        train_generator: the generator's optimizer takes a step.
        train_discriminator: the discriminator's optimizer takes a step.
        adversarial: the generator's loss includes its adversarial term (the
            discriminator is run on the generator's output).
    """

    train_generator: object
    train_discriminator: object
    adversarial: object


def _when(condition, true_fn, false_fn):
    """`true_fn()` if `condition` (a bool or boolean scalar tensor) holds, else `false_fn()`.

    A condition known while tracing (a Python bool, a constant) picks its
    branch in Python, so no conditional enters the graph; any other is a
    `tf.cond`, whose two branches return the same structure.
    """
    known = tf.get_static_value(condition)
    if known is not None:
        return true_fn() if known else false_fn()
    return tf.cond(condition, true_fn, false_fn)


def _computes_in_float16(network):
    """Whether `network` (or None) computes under the `mixed_float16` policy."""
    return network is not None and network.dtype_policy.name == "mixed_float16"


def _loss_scaled(optimizer):
    """`optimizer` wrapped in a `LossScaleOptimizer`, unless it is one already."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer, name=f"{optimizer.name}_loss_scale")


@keras.saving.register_keras_serializable(package="keras_inpaint")
class Inpainter(keras.Model):
    """A generator (plus an optional discriminator) trained with `model.fit`.

    Calling the model runs inference and returns the composite: known pixels
    of the input kept, the hole taken from the generator. A generator that
    predicts only the centre region (Context Encoders) has its prediction
    pasted into the centre of the canvas.

    Each training step (`train_step`) asks `train_schedule(step)`, with `step`
    the saved `step_counter`, which networks train, then:

    1. where `train_discriminator`: the discriminator takes one step on
       `discriminator_losses` of the generator's `discriminator_fakes`;
    2. where `train_generator`: the generator takes one step on
       `generator_losses` of its `generator_outputs`, with the adversarial
       term (of the discriminator as step 1 left it) where `adversarial`;
       otherwise `frozen_generator_losses` of the composite the
       discriminator judged (or of the generator's inference output) are
       logged and no generator variable changes;
    3. the step counter advances.

    The generator runs once in a step that trains both networks, where the
    schedule says so while the step is traced (a constant schedule: every
    step of Context Encoders, PatchGAN and PEPSI) and the wrapper's
    `shares_generator_pass` is True: the generator's forward pass (its
    `generator_outputs`, inside its gradient tape) comes first, the
    discriminator learns from that pass's prediction and composite,
    gradients stopped, instead of from `discriminator_fakes`, and then the
    generator's losses read the updated discriminator as before. The
    trainable weights after the step are the same as with two passes (the
    generator's output is computed before either update, and the
    discriminator's update does not touch the generator). Two things
    change: the generator's BatchNorm moving statistics move once per step
    instead of twice (as in a step without a discriminator), and a random
    layer in the generator (a Context Encoder's bottleneck `Dropout`) draws
    one mask per step, so the discriminator judges the very output the
    generator's loss is taken on rather than a second, independently
    dropped-out one. A schedule of tensors (GLCIC's phases) keeps the two
    passes: which networks train is known only when the step runs.

    An optimizer is applied only at steps where its network trains (applying
    one with zero gradients would still move the weights through momentum or
    weight decay, and count a step). A schedule of boolean tensors (e.g.
    `step >= 1000`) becomes `tf.cond`s in the traced step, so one graph serves
    every phase, under a distribution strategy and after a resume too; the
    default schedule is constant and builds no conditional.

    Hooks a wrapper overrides (one per paper):

    - `generator_losses` (required): a dict of named loss tensors, the
      optimised total under `"g_loss"`.
    - `discriminator_losses` (required with a discriminator): a dict, the
      total under `"d_loss"`.
    - `generator_loss_names`, `adversarial_loss_names`,
      `discriminator_loss_names`: the logged terms. `loss_names`, one tracker
      each, is per instance: the first group, plus the other two when the
      model has a discriminator (a model without one logs no zero
      discriminator or adversarial terms).
    - `train_schedule`, `generator_outputs`, `discriminator_fakes`,
      `frozen_generator_losses`: optional, see each.

    Args:
        generator: functional generator, inputs `[masked_image, mask]`.
        discriminator: optional discriminator model.
        step_masks: None (training batches carry their masks), or a mask spec
            (`{"kind": ...}`, as in a data spec's `masks`): training batches
            are images alone and `train_step` draws their masks (`draw_masks`).
            Evaluation batches still carry theirs.
        mask_seed: int, the first half of the step masks' stateless seeds; the
            second is the model's `mask_draws` counter, a weight like the step
            counter, saved and restored with it (a `keras.random.SeedGenerator`
            is not: its state is not among the weights that `save_weights`
            and `TrainingBackup` write).
        **kwargs: passed to `keras.Model`; `dtype` defaults to float32 (the networks
            carry any mixed-precision policy).

    Example:
        >>> from keras_inpaint.models.context_encoder import (
        ...     ContextEncoderGenerator, ContextEncoderInpainter)
        >>> generator = ContextEncoderGenerator(
        ...     image_size=32, variant="full", encoder_filters=[8, 8, 8],
        ...     bottleneck=16, decoder_filters=[8, 8, 8])
        >>> model = ContextEncoderInpainter(generator)
        >>> model.compile(g_optimizer=keras.optimizers.Adam(2e-4))
        >>> model.train_schedule(0)
        TrainingSchedule(train_generator=True, train_discriminator=False, adversarial=False)
    """

    # Terms of `generator_losses` logged by every instance.
    generator_loss_names = ("g_loss",)
    # Terms of `generator_losses` that need the discriminator: logged only with one,
    # and only at steps whose schedule is `adversarial`.
    adversarial_loss_names = ()
    # Terms of `discriminator_losses`: logged only with a discriminator.
    discriminator_loss_names = ("d_loss",)
    # Whether, in a step that trains both networks, the discriminator may learn from the
    # generator step's own forward pass (training mode) instead of `discriminator_fakes`:
    # a wrapper whose fakes differ from that pass (GLCIC's inference-mode fakes) sets False.
    shares_generator_pass = True

    def __init__(self, generator, discriminator=None, step_masks=None, mask_seed=0, **kwargs):
        # The networks carry the dtype policy they were built under (mixed
        # precision computes in them); the model itself stays float32, so
        # calling it does not cast its inputs and the composite is float32.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.step_masks = dict(step_masks) if step_masks is not None else None
        self.mask_seed = int(mask_seed)
        if self.step_masks is not None:
            self._mask_fn = masks.make_mask_fn(self.step_masks)
            self.mask_draws = self.add_weight(
                name="mask_draws", shape=(), dtype="int64", initializer="zeros", trainable=False
            )
        # The step counter drives schedules; it is a weight of the model, so it is
        # saved by checkpoints and `TrainingBackup` snapshots and a resumed run continues.
        self.step_counter = self.add_weight(
            name="step_counter", shape=(), dtype="int64", initializer="zeros", trainable=False
        )
        names = tuple(self.generator_loss_names)
        if discriminator is not None:
            names += tuple(self.adversarial_loss_names) + tuple(self.discriminator_loss_names)
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.quality_metrics = [PSNR(region="image"), PSNR(region="hole"), MeanL1(region="hole")]
        self.g_optimizer = None
        self.d_optimizer = None
        # Generator and discriminator are functional models, built on creation.
        self.built = True

    @property
    def loss_names(self):
        """The loss terms this model logs (a tracker each), in order."""
        return tuple(self.loss_trackers)

    # === Compile ===
    def compile(self, g_optimizer, d_optimizer=None, auto_scale_loss=True, **kwargs):
        """Set the optimizers and build their variables now.

        Building before `fit` matters: a restored backup (`TrainingBackup`,
        `load_weights`) restores optimizer state only into variables that
        already exist. The generator's optimizer is also Keras's
        `model.optimizer` (what callbacks such as TensorBoard look at), so no
        unused default optimizer exists.

        Under the `mixed_float16` policy (the model's or either network's)
        each optimizer is wrapped in a `keras.optimizers.LossScaleOptimizer`
        (unless it is one already or `auto_scale_loss` is False): the
        training step scales each loss with its optimizer's `scale_loss` and
        the wrapper unscales the gradients, so float16 gradients do not
        underflow. `jit_compile` and other keyword arguments go to
        `keras.Model.compile`.
        """
        if self.discriminator is not None and d_optimizer is None:
            raise ValueError(
                "this Inpainter has a discriminator, so compile() needs d_optimizer as well "
                "as g_optimizer."
            )
        networks = (self, self.generator, self.discriminator)
        if auto_scale_loss and any(_computes_in_float16(network) for network in networks):
            g_optimizer = _loss_scaled(g_optimizer)
            d_optimizer = _loss_scaled(d_optimizer) if d_optimizer is not None else None
        super().compile(optimizer=g_optimizer, auto_scale_loss=auto_scale_loss, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer if self.discriminator is not None else None
        self.g_optimizer.build(self.generator.trainable_variables)
        if self.d_optimizer is not None:
            self.d_optimizer.build(self.discriminator.trainable_variables)

    def get_compile_config(self):
        if self.g_optimizer is None:
            return None
        config = {"g_optimizer": keras.optimizers.serialize(self.g_optimizer)}
        if self.d_optimizer is not None:
            config["d_optimizer"] = keras.optimizers.serialize(self.d_optimizer)
        return config

    def compile_from_config(self, config):
        optimizers = {key: keras.optimizers.deserialize(value) for key, value in config.items()}
        self.compile(**optimizers)

    @property
    def metrics(self):
        return list(self.loss_trackers.values()) + self.quality_metrics

    # === Inference ===
    def call(self, inputs, training=False):
        masked_image, mask = inputs
        prediction = self.generator([masked_image, mask], training=training)
        return self.compose(prediction, masked_image, mask)

    def expand_prediction(self, prediction, reference):
        """Paste a centre-region prediction into a canvas the size of `reference`."""
        if tuple(prediction.shape[1:3]) == tuple(reference.shape[1:3]):
            return prediction
        pad_h = reference.shape[1] - prediction.shape[1]
        pad_w = reference.shape[2] - prediction.shape[2]
        top, left = pad_h // 2, pad_w // 2
        return ops.pad(prediction, [[0, 0], [top, pad_h - top], [left, pad_w - left], [0, 0]])

    def compose(self, prediction, masked_image, mask):
        """Known pixels from the input, hole pixels from the prediction."""
        # Under a mixed-precision policy the generator computes in bfloat16 or
        # float16; the composite (and every loss on it) stays in the input's float32.
        full = ops.cast(self.expand_prediction(prediction, masked_image), masked_image.dtype)
        return masked_image * (1.0 - mask) + full * mask

    # === Schedule (overridden by a wrapper whose paper has one) ===
    def train_schedule(self, step):
        """Which networks train at training step `step`: a `TrainingSchedule`.

        `step` is the step counter (an int64 scalar; the saved `step_counter`
        weight in training). Return boolean tensors for a schedule that
        depends on `step` (e.g. `step >= 1000`): they become `tf.cond`s of the
        traced step. The default, constant: the generator at every step and,
        where the model has one, the discriminator, the generator's loss
        with its adversarial term. Without a discriminator a schedule must
        keep `train_discriminator` and `adversarial` False.
        """
        has_discriminator = self.discriminator is not None
        return TrainingSchedule(True, has_discriminator, has_discriminator)

    # === Losses (implemented by each paper's subclass) ===
    def generator_outputs(self, masked_image, mask, training):
        """The generator's outputs that `generator_losses` reads.

        A dict with the `"prediction"` (what `compose` puts in the hole) and
        any other output, passed to `generator_losses` as a keyword argument
        of the same name (e.g. PEPSI's coarse path). Used by the generator's
        training step and by evaluation. Default: the generator's prediction.
        """
        return {"prediction": self.generator([masked_image, mask], training=training)}

    def generator_losses(self, image, prediction, composite, mask, training, adversarial=True):
        """Return a dict of loss terms with the total under `"g_loss"`.

        `adversarial` (a bool or boolean tensor) says whether the total
        includes the adversarial term; compute that term with
        `adversarial_term`, so the discriminator does not run where it is
        false. Further keyword arguments are the extra `generator_outputs`.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement generator_losses")

    def adversarial_term(self, adversarial, term):
        """`term()` where `adversarial` holds, else 0.0 without calling `term` (nor D)."""
        return _when(adversarial, term, lambda: ops.zeros((), "float32"))

    def discriminator_losses(self, image, prediction, composite, mask, training):
        """Return a dict of loss terms with the total under `"d_loss"`."""
        raise NotImplementedError(f"{type(self).__name__} must implement discriminator_losses")

    def discriminator_fakes(self, masked_image, mask):
        """The generator's `(prediction, composite)` the discriminator's step learns from.

        Default: the generator in training mode (batch statistics, as in its
        own step), gradients stopped. Not called in a step where the
        generator's pass is shared (see the class docstring); a wrapper that
        overrides it sets `shares_generator_pass = False`.
        """
        prediction = ops.stop_gradient(self.generator([masked_image, mask], training=True))
        return prediction, self.compose(prediction, masked_image, mask)

    def frozen_generator_losses(self, image, composite, mask):
        """Terms logged at a step whose schedule does not train the generator.

        `composite` is the one the discriminator judged at that step (or the
        generator's inference output where the discriminator did not train).
        Return a dict of terms named in `generator_loss_names`; the others are
        not logged at that step. Default: none.
        """
        return {}

    # === Training ===
    @staticmethod
    def _per_replica(loss):
        # Gradients are summed over replicas, so each replica's mean loss is scaled
        # down to make the sum the global-batch mean.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return loss / float(replicas) if replicas > 1 else loss

    def _checked_schedule(self):
        schedule = TrainingSchedule(*self.train_schedule(self.step_counter))
        if self.discriminator is None:
            for name in ("train_discriminator", "adversarial"):
                known = tf.get_static_value(getattr(schedule, name))
                if known is None or known:
                    raise ValueError(
                        f"{type(self).__name__}.train_schedule returns a {name} that may be "
                        "true, but the model has no discriminator: return False for it when "
                        "self.discriminator is None."
                    )
        return schedule

    def _apply_when(self, active, optimizer, gradients, network):
        """Apply `optimizer` to `network` only where `active` (a bool or boolean tensor) holds.

        A constant `active` is decided in Python. Otherwise, on one device,
        this is a `tf.cond`. Under a strategy that aggregates gradients with
        `merge_call` (MirroredStrategy), `apply_gradients` cannot run inside a
        replica's `tf.cond`, so the condition moves to the cross-replica
        context and each replica applies its gradients from there, the
        pattern of Keras's LossScaleOptimizer.
        """
        variables = network.trainable_variables

        def apply(grads):
            optimizer.apply_gradients(zip(grads, variables, strict=True))

        known = tf.get_static_value(active)
        if known is not None:
            if known:
                apply(gradients)
        elif tf.distribute.has_strategy() and (
            not tf.__internal__.distribute.strategy_supports_no_merge_call()
        ):

            def cross_replica(strategy, active, gradients):
                # Every replica computed the same schedule from the same step counter.
                first = strategy.experimental_local_results(active)[0]
                tf.cond(
                    first,
                    lambda: strategy.extended.call_for_each_replica(apply, args=(gradients,)),
                    lambda: None,
                )

            tf.distribute.get_replica_context().merge_call(cross_replica, args=(active, gradients))
        else:
            tf.cond(active, lambda: apply(gradients), lambda: None)

    def _shares_generator_pass(self, schedule):
        """Whether this step runs the generator once for both networks (class docstring)."""
        if self.discriminator is None or not self.shares_generator_pass:
            return False
        if type(self).discriminator_fakes is not Inpainter.discriminator_fakes:
            raise ValueError(
                f"{type(self).__name__} overrides discriminator_fakes but keeps "
                "shares_generator_pass = True, so its fakes would be ignored in steps that "
                "train both networks: set shares_generator_pass = False in the class."
            )
        both = (schedule.train_generator, schedule.train_discriminator)
        return all(tf.get_static_value(flag) is True for flag in both)

    def _discriminator_gradients(self, masked_image, mask, image, fakes=None):
        """D's logged terms, gradients and composite; `fakes` defaults to `discriminator_fakes`."""
        if fakes is None:
            fakes = self.discriminator_fakes(masked_image, mask)
        prediction, composite = fakes
        with tf.GradientTape() as tape:
            losses = self.discriminator_losses(image, prediction, composite, mask, training=True)
            scaled_loss = self.d_optimizer.scale_loss(self._per_replica(losses["d_loss"]))
        gradients = tape.gradient(scaled_loss, self.discriminator.trainable_variables)
        return self._terms(self.discriminator_loss_names, losses, True), gradients, composite

    def _discriminator_skipped(self, masked_image):
        terms = self._terms(self.discriminator_loss_names, {}, False)
        zeros = [ops.zeros_like(v) for v in self.discriminator.trainable_variables]
        return terms, zeros, ops.zeros_like(masked_image)

    def _generator_forward(self, masked_image, mask, training):
        """`(prediction, composite, other_outputs)` of the `generator_outputs`."""
        outputs = dict(self.generator_outputs(masked_image, mask, training=training))
        prediction = outputs.pop("prediction")
        return prediction, self.compose(prediction, masked_image, mask), outputs

    def _generator_losses(self, masked_image, mask, image, training, adversarial):
        """`(generator_losses, prediction, composite)` of the `generator_outputs`."""
        prediction, composite, outputs = self._generator_forward(masked_image, mask, training)
        losses = self.generator_losses(
            image, prediction, composite, mask, training, adversarial=adversarial, **outputs
        )
        return losses, prediction, composite

    def _generator_gradients(self, masked_image, mask, image, adversarial, step_on_fakes=None):
        """G's logged terms, gradients and composite.

        `step_on_fakes(prediction, composite)`, where given, runs between the
        generator's forward pass and its losses, outside the tape, on that
        pass's outputs with gradients stopped (the discriminator's step of a
        shared pass); it returns terms to log.
        """
        terms = {}
        with tf.GradientTape() as tape:
            prediction, composite, outputs = self._generator_forward(
                masked_image, mask, training=True
            )
            if step_on_fakes is not None:
                with tape.stop_recording():
                    terms.update(
                        step_on_fakes(ops.stop_gradient(prediction), ops.stop_gradient(composite))
                    )
            losses = self.generator_losses(
                image, prediction, composite, mask, True, adversarial=adversarial, **outputs
            )
            scaled_loss = self.g_optimizer.scale_loss(self._per_replica(losses["g_loss"]))
        gradients = tape.gradient(scaled_loss, self.generator.trainable_variables)
        terms.update(self._terms(self.generator_loss_names, losses, True))
        terms.update(self._terms(self.adversarial_loss_names, losses, adversarial))
        return terms, gradients, composite

    def _frozen_generator(self, masked_image, mask, image, judged, judged_now):
        def inference():
            prediction = self.generator([masked_image, mask], training=False)
            return self.compose(prediction, masked_image, mask)

        composite = _when(judged_now, lambda: judged, inference)
        losses = self.frozen_generator_losses(image, composite, mask)
        zeros = [ops.zeros_like(v) for v in self.generator.trainable_variables]
        terms = self._terms(self.generator_loss_names, losses, True)
        terms.update(self._terms(self.adversarial_loss_names, {}, False))
        return terms, zeros, composite

    def _terms(self, names, losses, logged):
        """`{name: (value, logged)}` for those `names` this model logs; a missing term is 0."""
        return {
            name: (losses[name], logged) if name in losses else (ops.zeros((), "float32"), False)
            for name in names
            if name in self.loss_trackers
        }

    def _log(self, terms, image, composite, mask):
        """Update the trackers from `{name: (value, logged)}` and the metrics; return the logs."""
        batch_size = ops.shape(image)[0]
        for name, (value, logged) in terms.items():
            known = tf.get_static_value(logged)
            if known is None:
                weight = ops.cast(batch_size, "float32") * ops.cast(logged, "float32")
                self.loss_trackers[name].update_state(value, sample_weight=weight)
            elif known:
                self.loss_trackers[name].update_state(value, sample_weight=batch_size)
        for metric in self.quality_metrics:
            metric.update_state(image, composite, mask)
        return {metric.name: metric.result() for metric in self.metrics}

    def draw_masks(self, image):
        """Masks `(B, H, W, 1)` for a batch of images, from `step_masks`.

        Call `k` (counted by the saved `mask_draws` weight) uses the stateless
        seed `[mask_seed, k]` and advances the counter, so successive batches
        get new masks and a restored model continues the sequence.
        """
        if self.step_masks is None:
            raise ValueError(
                f"{self.name} was built without step_masks, so it does not draw masks: pass "
                "step_masks (a mask spec) to the constructor, or batches that carry masks."
            )
        draw = ops.cast(self.mask_draws, "int64")
        seed = ops.stack([ops.convert_to_tensor(self.mask_seed, "int64"), draw])
        self.mask_draws.assign_add(1)
        height, width = image.shape[1], image.shape[2]
        mask = self._mask_fn(ops.shape(image)[0], height, width, seed)
        return ops.cast(mask, image.dtype)

    def _training_batch(self, data):
        """`((masked_image, mask), image)`: `data` itself, or images with masks drawn now."""
        if self.step_masks is None:
            return data
        if isinstance(data, tuple | list):
            raise ValueError(
                f"{self.name} draws its masks in the training step (step_masks), so fit() "
                "takes batches of images alone; build the training data with "
                "build_dataset(..., masks_in='step')."
            )
        image = data
        mask = self.draw_masks(image)
        return (image * (1.0 - mask), mask), image

    def train_step(self, data):
        (masked_image, mask), image = self._training_batch(data)
        schedule = self._checked_schedule()
        if self._shares_generator_pass(schedule):
            terms, composite = self._shared_pass_step(masked_image, mask, image, schedule)
        else:
            terms, composite = self._two_pass_step(masked_image, mask, image, schedule)
        self.step_counter.assign_add(1)
        return self._log(terms, image, ops.stop_gradient(composite), mask)

    def _shared_pass_step(self, masked_image, mask, image, schedule):
        """Both networks train on one generator pass: D steps first, then G (class docstring)."""

        def discriminator_step(prediction, composite):
            d_terms, d_gradients, _ = self._discriminator_gradients(
                masked_image, mask, image, fakes=(prediction, composite)
            )
            self._apply_when(True, self.d_optimizer, d_gradients, self.discriminator)
            return d_terms

        terms, g_gradients, composite = self._generator_gradients(
            masked_image, mask, image, schedule.adversarial, step_on_fakes=discriminator_step
        )
        self._apply_when(True, self.g_optimizer, g_gradients, self.generator)
        return terms, composite

    def _two_pass_step(self, masked_image, mask, image, schedule):
        """D on `discriminator_fakes` where it trains, then G on its own pass where it trains."""
        terms, judged = {}, None
        if self.discriminator is not None:
            d_terms, d_gradients, judged = _when(
                schedule.train_discriminator,
                lambda: self._discriminator_gradients(masked_image, mask, image),
                lambda: self._discriminator_skipped(masked_image),
            )
            self._apply_when(
                schedule.train_discriminator, self.d_optimizer, d_gradients, self.discriminator
            )
            terms.update(d_terms)
        g_terms, g_gradients, composite = _when(
            schedule.train_generator,
            lambda: self._generator_gradients(masked_image, mask, image, schedule.adversarial),
            lambda: self._frozen_generator(
                masked_image, mask, image, judged, schedule.train_discriminator
            ),
        )
        self._apply_when(schedule.train_generator, self.g_optimizer, g_gradients, self.generator)
        terms.update(g_terms)
        return terms, composite

    def test_step(self, data):
        (masked_image, mask), image = data
        has_discriminator = self.discriminator is not None
        losses, prediction, composite = self._generator_losses(
            masked_image, mask, image, training=False, adversarial=has_discriminator
        )
        if has_discriminator:
            losses.update(
                self.discriminator_losses(image, prediction, composite, mask, training=False)
            )
        return self._log(self._terms(self.loss_names, losses, True), image, composite, mask)

    # === Config ===
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        if self.step_masks is not None:
            config.update(step_masks=self.step_masks, mask_seed=self.mask_seed)
        config["generator"] = keras.saving.serialize_keras_object(self.generator)
        config["discriminator"] = (
            keras.saving.serialize_keras_object(self.discriminator)
            if self.discriminator is not None
            else None
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        if config.get("discriminator") is not None:
            config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)
