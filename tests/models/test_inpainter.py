"""The Inpainter base: composition, the step counter, optimizers, saving, distribution."""

import keras
import numpy as np
import pytest
from keras import ops
from test_case import (
    assert_fit_step_trains,
    assert_keras_round_trip,
    changed,
    random_batch,
    run_on_two_cpus,
    snapshot,
    tiny_context_encoder,
    tiny_context_encoder_center,
)

from keras_inpaint.models.context_encoder import ContextEncoderInpainter, DCGANDiscriminator
from keras_inpaint.models.inpainter import TrainingSchedule


def tiny_center():
    return tiny_context_encoder_center(keras.optimizers.Adam(2e-3), keras.optimizers.Adam(2e-4))


def test_call_keeps_known_pixels_exactly():
    model = tiny_context_encoder(discriminator=True)
    (masked_image, mask), image = random_batch(4, 32)
    composite = keras.ops.convert_to_numpy(model((masked_image, mask)))
    known = mask.numpy()[..., 0] == 0
    np.testing.assert_array_equal(composite[known], masked_image.numpy()[known])


def test_center_prediction_is_pasted_into_the_centre():
    model = tiny_center()
    (masked_image, mask), _ = random_batch(2, 32)
    prediction = model.generator([masked_image, mask])
    canvas = keras.ops.convert_to_numpy(model.expand_prediction(prediction, masked_image))
    assert canvas.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(canvas[:, 8:24, 8:24], keras.ops.convert_to_numpy(prediction))
    assert np.all(canvas[:, :8] == 0) and np.all(canvas[:, 24:] == 0)


@pytest.mark.large
@pytest.mark.parametrize("builder", [lambda: tiny_context_encoder(discriminator=True), tiny_center])
def test_one_fit_step_trains_generator_and_discriminator(builder):
    model = builder()
    history = assert_fit_step_trains(model, random_batch(4, 32))
    assert {"g_loss", "rec_loss", "adv_loss", "d_loss", "hole_psnr"} <= set(history.history)
    assert int(model.step_counter.numpy()) == 1


@pytest.mark.large
def test_without_discriminator_trains_on_reconstruction_only():
    model = tiny_context_encoder(discriminator=False)
    history = assert_fit_step_trains(model, random_batch(4, 32), expect_discriminator=False)
    assert history.history["g_loss"] == history.history["rec_loss"]


@pytest.mark.large
def test_loss_names_are_per_instance_and_without_discriminator_no_zeros_are_logged():
    assert tiny_context_encoder(discriminator=True).loss_names == (
        "g_loss",
        "rec_loss",
        "adv_loss",
        "d_loss",
    )
    model = tiny_context_encoder(discriminator=False)
    assert model.loss_names == ("g_loss", "rec_loss")
    expected = {"g_loss", "rec_loss", "psnr", "hole_psnr", "hole_l1"}
    assert {metric.name for metric in model.metrics} == expected
    history = model.fit(np_batches(random_batch(4, 32)), epochs=1, steps_per_epoch=1, verbose=0)
    assert set(history.history) == expected
    logs = model.evaluate(np_batches(random_batch(4, 32)).take(1), verbose=0, return_dict=True)
    assert set(logs) == expected


class ScheduledContextEncoder(ContextEncoderInpainter):
    """A Context Encoder trained on the schedule `schedule(step)` (tests only)."""

    def __init__(self, generator, discriminator=None, schedule=None, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.schedule = schedule

    def train_schedule(self, step):
        return self.schedule(step)


def scheduled(schedule, discriminator=True):
    generator = tiny_context_encoder().generator
    critic = DCGANDiscriminator(image_size=32, filters=[8, 8, 8]) if discriminator else None
    model = ScheduledContextEncoder(generator, critic, schedule=schedule)
    model.compile(keras.optimizers.Adam(2e-3), keras.optimizers.Adam(2e-4))
    return model


def fit_one_step(model, batch):
    """Fit one step; return (generator moved, discriminator moved, logs)."""
    generator_before = snapshot(model.generator.trainable_variables)
    discriminator_before = snapshot(model.discriminator.trainable_variables)
    history = model.fit(np_batches(batch), epochs=1, steps_per_epoch=1, verbose=0)
    return (
        changed(generator_before, model.generator.trainable_variables),
        changed(discriminator_before, model.discriminator.trainable_variables),
        {name: values[-1] for name, values in history.history.items()},
    )


def constant(value):
    return lambda step: value


def of_step(value):
    """The same choice as a tensor computed from the step: a `tf.cond` in the traced step."""
    return lambda step: ops.logical_xor(ops.less(step, 0), value)


@pytest.mark.large
@pytest.mark.parametrize("form", [constant, of_step], ids=["constant", "tensor"])
@pytest.mark.parametrize("train_generator, train_discriminator", [(True, False), (False, True)])
def test_the_schedule_decides_which_network_trains(form, train_generator, train_discriminator):
    decide = form(train_generator), form(train_discriminator), form(False)
    model = scheduled(lambda step: TrainingSchedule(*(choice(step) for choice in decide)))
    generator_moved, discriminator_moved, logs = fit_one_step(model, random_batch(4, 32))
    assert (generator_moved, discriminator_moved) == (train_generator, train_discriminator)
    assert int(model.g_optimizer.iterations.numpy()) == int(train_generator)
    assert int(model.d_optimizer.iterations.numpy()) == int(train_discriminator)
    # Terms are logged only where their network trained; never the adversarial term here.
    assert (logs["g_loss"] != 0, logs["d_loss"] != 0) == (train_generator, train_discriminator)
    assert logs["adv_loss"] == 0 and np.isfinite(logs["hole_psnr"])
    assert int(model.step_counter.numpy()) == 1


@pytest.mark.large
def test_a_schedule_of_the_step_alternates_the_networks():
    def alternate(step):
        odd = ops.equal(ops.mod(step, 2), 1)
        return TrainingSchedule(ops.logical_not(odd), odd, False)

    model = scheduled(alternate)
    batch = random_batch(4, 32)
    moves = [fit_one_step(model, batch)[:2] for _ in range(3)]
    assert moves == [(True, False), (False, True), (True, False)]
    assert int(model.g_optimizer.iterations.numpy()) == 2
    assert int(model.d_optimizer.iterations.numpy()) == 1


@pytest.mark.large
def test_the_adversarial_term_follows_the_schedule():
    model = scheduled(constant(TrainingSchedule(True, True, False)))
    _, _, logs = fit_one_step(model, random_batch(4, 32))
    assert logs["adv_loss"] == 0 and logs["d_loss"] != 0
    assert logs["g_loss"] == pytest.approx(0.999 * logs["rec_loss"], rel=1e-6)
    model.schedule = constant(TrainingSchedule(True, True, True))
    model.make_train_function(force=True)
    _, _, logs = fit_one_step(model, random_batch(4, 32))
    assert logs["adv_loss"] > 0
    expected = 0.999 * logs["rec_loss"] + 0.001 * logs["adv_loss"]
    assert logs["g_loss"] == pytest.approx(expected, rel=1e-5)


def test_a_schedule_training_a_missing_discriminator_is_refused():
    model = scheduled(constant(TrainingSchedule(True, True, False)), discriminator=False)
    with pytest.raises(ValueError, match="train_discriminator .* no discriminator"):
        model.fit(np_batches(random_batch(4, 32)), epochs=1, steps_per_epoch=1, verbose=0)


@pytest.mark.large
def test_log_mse_reconstruction_is_the_mean_log_hole_mse_and_round_trips(tmp_path):
    from keras_inpaint.losses import hole_log_l2

    generator = tiny_context_encoder().generator
    model = ContextEncoderInpainter(generator, reconstruction="log_mse")
    model.compile(keras.optimizers.Adam(2e-3))
    (masked_image, mask), image = random_batch(4, 32)
    prediction = model.generator([masked_image, mask])
    losses = model.generator_losses(image, prediction, prediction, mask, training=False)
    expected = hole_log_l2(image, prediction, mask)
    np.testing.assert_allclose(float(losses["rec_loss"]), float(expected), rtol=1e-6)
    assert float(losses["rec_loss"]) < 0  # log10 of an MSE below 1, unlike the plain L2
    history = assert_fit_step_trains(model, random_batch(4, 32), expect_discriminator=False)
    assert np.isfinite(history.history["rec_loss"][0])
    restored = assert_keras_round_trip(model, random_batch(4, 32)[0], tmp_path)
    assert restored.reconstruction == "log_mse"
    with pytest.raises(ValueError, match="reconstruction='l1': use one of overlap_l2, log_mse"):
        ContextEncoderInpainter(generator, reconstruction="l1")


def test_discriminator_needs_its_optimizer():
    model = tiny_context_encoder(discriminator=True)
    with pytest.raises(ValueError, match="d_optimizer"):
        model.compile(g_optimizer=keras.optimizers.Adam())


def test_optimizers_are_built_before_fit():
    model = tiny_context_encoder(discriminator=True)
    assert model.g_optimizer.built and model.d_optimizer.built


@pytest.mark.large
def test_keras_file_restores_weights_optimizers_and_step(tmp_path):
    model = tiny_context_encoder(discriminator=True)
    batch = random_batch(4, 32)
    model.fit(np_batches(batch), epochs=1, steps_per_epoch=2, verbose=0)
    restored = assert_keras_round_trip(model, batch[0], tmp_path)
    assert int(restored.step_counter.numpy()) == 2
    assert int(restored.g_optimizer.iterations.numpy()) == 2
    for old, new in zip(model.g_optimizer.variables, restored.g_optimizer.variables, strict=True):
        np.testing.assert_allclose(np.array(new), np.array(old))


def np_batches(batch):
    import tensorflow as tf

    return tf.data.Dataset.from_tensors(batch).repeat()


@pytest.mark.large
def test_evaluate_reports_losses_and_quality():
    model = tiny_context_encoder(discriminator=True)
    logs = model.evaluate(np_batches(random_batch(4, 32)).take(2), verbose=0, return_dict=True)
    assert {"g_loss", "d_loss", "psnr", "hole_psnr", "hole_l1"} <= set(logs)
    assert all(np.isfinite(value) for value in logs.values())


@pytest.mark.large
def test_mirrored_strategy_matches_single_device():
    """Two logical CPU devices give the same losses as one device (same data, same init)."""
    results = run_on_two_cpus(
        """
        from test_case import random_batch, tiny_context_encoder
        batch = random_batch(8, 32)
        results = {}
        for mode, strategy in strategies():
            with strategy.scope():
                model = tiny_context_encoder(discriminator=True)
            data = tf.data.Dataset.from_tensors(batch).repeat().take(3)
            history = model.fit(data, epochs=1, verbose=0)
            results[mode] = {k: float(v[-1]) for k, v in history.history.items()}
            results[mode + "_replicas"] = strategy.num_replicas_in_sync
        """
    )
    assert results["mirrored_replicas"] == 2 and results["single_replicas"] == 1
    for name in ("g_loss", "rec_loss", "adv_loss", "d_loss", "psnr"):
        assert results["mirrored"][name] == pytest.approx(results["single"][name], rel=2e-2), name
