"""XLA: every wrapper's training step compiles with `jit_compile=True`, at batch 1 (and 2).

A batch of one is where a dimension of size 1 can lose its static shape; two
steps run GLCIC through a phase switch (a `tf.cond` in the compiled step).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import TINY_WRAPPERS, changed, random_batch, snapshot

from keras_inpaint.models.glcic import GLCICInpainter


def compile_with_xla(model):
    """Recompile `model` with fresh optimizers of the same kind and `jit_compile=True`."""
    g_optimizer = keras.optimizers.Adam(1e-3)
    d_optimizer = keras.optimizers.Adam(1e-3) if model.discriminator is not None else None
    model.compile(g_optimizer, d_optimizer, jit_compile=True)
    assert model.jit_compile is True


# Batch 1 for every wrapper; batch 2 where the batch once mattered (the AlexNet encoder's einsum).
# GLCIC's batch-1 step is the phase-switch test's: it trains G, then D, then both.
CASES = [(wrapper, 1) for wrapper in sorted(TINY_WRAPPERS) if wrapper != "glcic"]
CASES += [("context_encoder_alexnet", 2)]


@pytest.mark.large
@pytest.mark.parametrize("wrapper, batch_size", CASES)
def test_one_jit_compiled_fit_step_trains_every_wrapper(wrapper, batch_size):
    builder, size = TINY_WRAPPERS[wrapper]
    keras.utils.set_random_seed(0)
    model = builder()
    compile_with_xla(model)
    networks = [model.generator] + ([model.discriminator] if model.discriminator else [])
    before = [snapshot(network.trainable_variables) for network in networks]
    batch = random_batch(batch_size, size)
    history = model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{name} is not finite: {values}"
    for old, network in zip(before, networks, strict=True):
        assert changed(old, network.trainable_variables), f"{network.name} did not train"


@pytest.mark.large
@pytest.mark.parametrize("batch_size", [1])
def test_glcic_switches_phase_inside_one_compiled_step(batch_size):
    builder, size = TINY_WRAPPERS["glcic"]
    generator_only = builder()
    model = GLCICInpainter(generator_only.generator, generator_only.discriminator, tc=1, td=1)
    compile_with_xla(model)
    batches = tf.data.Dataset.from_tensors(random_batch(batch_size, size)).repeat()
    generator_before = snapshot(model.generator.trainable_variables)
    discriminator_before = snapshot(model.discriminator.trainable_variables)
    history = model.fit(batches, epochs=3, steps_per_epoch=1, verbose=0)
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{name} is not finite: {values}"
    assert history.history["d_loss"][0] == 0.0 and history.history["d_loss"][2] > 0.0
    assert changed(generator_before, model.generator.trainable_variables)
    assert changed(discriminator_before, model.discriminator.trainable_variables)
    assert int(model.step_counter.numpy()) == 3
