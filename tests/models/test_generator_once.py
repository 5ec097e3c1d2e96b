"""A GAN step that trains both networks runs the generator once, with today's numbers.

`Inpainter.train_step` shares the generator's forward pass between the
discriminator's step and its own where the schedule trains both networks at
every step (Context Encoders with a DCGAN or PatchGAN critic, PEPSI). The
reference here is the two-pass step written out from the wrapper's public
hooks: the discriminator steps on `discriminator_fakes`, then the generator
steps on its `generator_outputs` against the updated discriminator. After one
step every variable must match it, the generator's BatchNorm moving
statistics once moved (the reference restores them after its fakes pass, the
one documented difference). GLCIC's phase 3 keeps two passes (its fakes are
inference-mode outputs).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import TINY_WRAPPERS, random_batch

from keras_inpaint.models.inpainter import Inpainter

SHARED = ("context_encoder_center", "patch_gan", "pepsi")
# A compiled step against the eager reference, SGD at rate 0.1: rounding of op order only.
ATOL = 1e-6


def build(wrapper, seed=0):
    builder, size = TINY_WRAPPERS[wrapper]
    keras.utils.set_random_seed(seed)
    return builder(), size


def reference_step(model, batch):
    """One two-pass GAN step from the wrapper's hooks (the step before sharing)."""
    (masked_image, mask), image = batch
    generator, discriminator = model.generator, model.discriminator
    statistics = [variable.numpy() for variable in generator.non_trainable_variables]
    prediction, composite = model.discriminator_fakes(masked_image, mask)
    for variable, value in zip(generator.non_trainable_variables, statistics, strict=True):
        variable.assign(value)
    with tf.GradientTape() as tape:
        d_loss = model.discriminator_losses(image, prediction, composite, mask, training=True)
    variables = discriminator.trainable_variables
    gradients = tape.gradient(d_loss["d_loss"], variables)
    model.d_optimizer.apply_gradients(zip(gradients, variables, strict=True))
    with tf.GradientTape() as tape:
        outputs = dict(model.generator_outputs(masked_image, mask, training=True))
        prediction = outputs.pop("prediction")
        composite = model.compose(prediction, masked_image, mask)
        g_loss = model.generator_losses(
            image, prediction, composite, mask, True, adversarial=True, **outputs
        )
    variables = generator.trainable_variables
    gradients = tape.gradient(g_loss["g_loss"], variables)
    model.g_optimizer.apply_gradients(zip(gradients, variables, strict=True))


def all_weights(model):
    networks = (model.generator, model.discriminator)
    return [variable.numpy() for network in networks for variable in network.variables]


def sgd():
    # Plain SGD: Adam would blow a near-zero gradient's rounding (a bias before BatchNorm) up
    # to a full step, so eager and compiled steps would differ by far more than rounding.
    return keras.optimizers.SGD(learning_rate=0.1)


@pytest.mark.large
@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
@pytest.mark.parametrize("wrapper", SHARED)
def test_shared_pass_step_matches_the_two_pass_reference(wrapper, jit_compile):
    model, size = build(wrapper)
    reference, _ = build(wrapper)
    start = all_weights(model)
    batch = random_batch(2, size)
    model.compile(sgd(), sgd(), jit_compile=jit_compile)
    reference.compile(sgd(), sgd())
    model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    reference_step(reference, batch)
    for after, expected in zip(all_weights(model), all_weights(reference), strict=True):
        np.testing.assert_allclose(after, expected, rtol=0, atol=ATOL)
    assert any(not np.array_equal(a, b) for a, b in zip(all_weights(model), start, strict=True))


@pytest.mark.large
@pytest.mark.parametrize("wrapper", SHARED)
def test_shared_pass_trains_the_same_weights_as_two_passes(wrapper):
    """Against the step's own two-pass path (`shares_generator_pass` off).

    Bit for bit for Context Encoders; PEPSI's two graphs are fused differently
    by TensorFlow's optimizer, so to rounding.
    """
    shared, size = build(wrapper)
    two_passes, _ = build(wrapper)
    two_passes.shares_generator_pass = False
    batch = tf.data.Dataset.from_tensors(random_batch(2, size))
    for model in (shared, two_passes):
        model.compile(sgd(), sgd())
        model.fit(batch, epochs=1, verbose=0)
    for network in ("generator", "discriminator"):
        pairs = zip(
            getattr(shared, network).trainable_variables,
            getattr(two_passes, network).trainable_variables,
            strict=True,
        )
        for ours, theirs in pairs:
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=ATOL, err_msg=ours.path)


def count_calls(model, name):
    """Wrap the instance's hook `name` with a counter; return the counter list."""
    calls, hook = [], getattr(model, name)

    def counted(*args, **kwargs):
        calls.append(name)
        return hook(*args, **kwargs)

    setattr(model, name, counted)
    return calls


@pytest.mark.parametrize(
    "wrapper, generator_passes, fakes_passes",
    [("context_encoder_center", 1, 0), ("pepsi", 1, 0), ("glcic", 1, 1)],
)
def test_generator_passes_per_step(wrapper, generator_passes, fakes_passes):
    model, size = build(wrapper)
    model.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), run_eagerly=True)
    outputs = count_calls(model, "generator_outputs")
    fakes = count_calls(model, "discriminator_fakes")
    model.fit(tf.data.Dataset.from_tensors(random_batch(1, size)), epochs=1, verbose=0)
    assert (len(outputs), len(fakes)) == (generator_passes, fakes_passes)


def test_overriding_fakes_without_opting_out_is_an_error():
    model, size = build("context_encoder_center")

    class OwnFakes(type(model)):
        def discriminator_fakes(self, masked_image, mask):
            return Inpainter.discriminator_fakes(self, masked_image, mask)

    own = OwnFakes(model.generator, model.discriminator)
    own.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), run_eagerly=True)
    batch = tf.data.Dataset.from_tensors(random_batch(1, size))
    with pytest.raises(ValueError, match="shares_generator_pass = False"):
        own.fit(batch, epochs=1, verbose=0)
    OwnFakes.shares_generator_pass = False
    own.fit(batch, epochs=1, verbose=0)
