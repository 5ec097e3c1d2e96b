"""The training base of every zoo entry: a generator, an optional discriminator, one `fit`.

Each paper's wrapper subclasses `Inpainter` and says what its losses are
(`generator_losses`, `discriminator_losses`) and, where the paper has one,
its schedule. The base owns what is common: composing the output with the
known pixels, the two optimizers, distribution-aware loss scaling, a step
counter that is saved with the weights (so schedules survive a resume), loss
trackers and image-quality metrics.

Batches are `((masked_image, mask), image)` in [-1, 1], mask 1 = hole (see
docs/ARCHITECTURE.md).
"""

import keras
import tensorflow as tf
from keras import ops

from keras_inpaint.metrics import PSNR, MeanL1


@keras.saving.register_keras_serializable(package="keras_inpaint")
class Inpainter(keras.Model):
    """A generator (plus an optional discriminator) trained with `model.fit`.

    Calling the model runs inference and returns the composite: known pixels
    of the input kept, the hole taken from the generator. A generator that
    predicts only the centre region (Context Encoders) has its prediction
    pasted into the centre of the canvas.

    The base class trains the generator on `generator_losses` and, when a
    discriminator is given, the discriminator on `discriminator_losses`, once
    each per batch. Subclasses implement both methods; `loss_names` lists the
    logged terms.

    Args:
        generator: functional generator, inputs `[masked_image, mask]`.
        discriminator: optional discriminator model.
        **kwargs: passed to `keras.Model`.

    Example:
        >>> from keras_inpaint.models.context_encoder import (
        ...     ContextEncoderGenerator, ContextEncoderInpainter)
        >>> generator = ContextEncoderGenerator(
        ...     image_size=32, variant="full", encoder_filters=[8, 8, 8],
        ...     bottleneck=16, decoder_filters=[8, 8, 8])
        >>> model = ContextEncoderInpainter(generator)
        >>> model.compile(g_optimizer=keras.optimizers.Adam(2e-4))
    """

    loss_names = ("g_loss",)

    def __init__(self, generator, discriminator=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        # The step counter drives schedules; it is a weight of the model, so it is
        # saved by checkpoints and BackupAndRestore and a resumed run continues.
        self.step_counter = self.add_weight(
            name="step_counter", shape=(), dtype="int64", initializer="zeros", trainable=False
        )
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}
        self.quality_metrics = [PSNR(region="image"), PSNR(region="hole"), MeanL1(region="hole")]
        self.g_optimizer = None
        self.d_optimizer = None
        # Generator and discriminator are functional models, built on creation.
        self.built = True

    # === Compile ===
    def compile(self, g_optimizer, d_optimizer=None, **kwargs):
        """Set the optimizers and build their variables now.

        Building before `fit` matters: `BackupAndRestore` restores optimizer
        state only into variables that already exist. The generator's optimizer
        is also Keras's `model.optimizer` (what callbacks such as TensorBoard
        and BackupAndRestore look at), so no unused default optimizer exists.
        """
        super().compile(optimizer=g_optimizer, **kwargs)
        if self.discriminator is not None and d_optimizer is None:
            raise ValueError(
                "this Inpainter has a discriminator, so compile() needs d_optimizer as well "
                "as g_optimizer."
            )
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

    # === Losses (implemented by each paper's subclass) ===
    def generator_losses(self, image, prediction, composite, mask, training):
        """Return a dict of loss terms with the total under `"g_loss"`."""
        raise NotImplementedError(f"{type(self).__name__} must implement generator_losses")

    def discriminator_losses(self, image, prediction, composite, mask, training):
        """Return a dict of loss terms with the total under `"d_loss"`."""
        raise NotImplementedError(f"{type(self).__name__} must implement discriminator_losses")

    # === Training ===
    @staticmethod
    def _per_replica(loss):
        # Gradients are summed over replicas, so each replica's mean loss is scaled
        # down to make the sum the global-batch mean.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return loss / float(replicas) if replicas > 1 else loss

    def _apply(self, optimizer, tape, scaled_loss, variables):
        gradients = tape.gradient(scaled_loss, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))

    def _train_discriminator(self, masked_image, mask, image):
        prediction = self.generator([masked_image, mask], training=True)
        prediction = ops.stop_gradient(prediction)
        composite = self.compose(prediction, masked_image, mask)
        with tf.GradientTape() as tape:
            losses = self.discriminator_losses(image, prediction, composite, mask, training=True)
            scaled_loss = self._per_replica(losses["d_loss"])
        self._apply(self.d_optimizer, tape, scaled_loss, self.discriminator.trainable_variables)
        return losses

    def _train_generator(self, masked_image, mask, image):
        with tf.GradientTape() as tape:
            prediction = self.generator([masked_image, mask], training=True)
            composite = self.compose(prediction, masked_image, mask)
            losses = self.generator_losses(image, prediction, composite, mask, training=True)
            scaled_loss = self._per_replica(losses["g_loss"])
        self._apply(self.g_optimizer, tape, scaled_loss, self.generator.trainable_variables)
        return losses, composite

    def _log(self, losses, image, composite, mask):
        batch_size = ops.shape(image)[0]
        for name, value in losses.items():
            if name in self.loss_trackers:
                self.loss_trackers[name].update_state(value, sample_weight=batch_size)
        for metric in self.quality_metrics:
            metric.update_state(image, composite, mask)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        (masked_image, mask), image = data
        losses = {}
        if self.discriminator is not None:
            losses.update(self._train_discriminator(masked_image, mask, image))
        generator_losses, composite = self._train_generator(masked_image, mask, image)
        losses.update(generator_losses)
        self.step_counter.assign_add(1)
        return self._log(losses, image, ops.stop_gradient(composite), mask)

    def test_step(self, data):
        (masked_image, mask), image = data
        prediction = self.generator([masked_image, mask], training=False)
        composite = self.compose(prediction, masked_image, mask)
        losses = self.generator_losses(image, prediction, composite, mask, training=False)
        if self.discriminator is not None:
            losses.update(
                self.discriminator_losses(image, prediction, composite, mask, training=False)
            )
        return self._log(losses, image, composite, mask)

    # === Config ===
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
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
