"""The Inpainter base: composition, the step counter, optimizers, saving, distribution."""

import keras
import numpy as np
import pytest
from test_case import (
    assert_fit_step_trains,
    assert_keras_round_trip,
    random_batch,
    run_on_two_cpus,
)

from keras_inpaint.models.context_encoder import (
    ContextEncoderGenerator,
    ContextEncoderInpainter,
    DCGANDiscriminator,
)
from keras_inpaint.models.patch_gan import PatchGANDiscriminator


def tiny_generator():
    return ContextEncoderGenerator(
        image_size=32,
        variant="full",
        encoder_filters=[8, 8, 8],
        bottleneck=16,
        decoder_filters=[8, 8, 8],
    )


def tiny_full(discriminator=True):
    generator = tiny_generator()
    critic = (
        PatchGANDiscriminator(image_size=32, filters=8, num_layers=2) if discriminator else None
    )
    model = ContextEncoderInpainter(generator, critic)
    model.compile(
        keras.optimizers.Adam(2e-3, beta_1=0.5),
        keras.optimizers.Adam(2e-4, beta_1=0.5) if discriminator else None,
    )
    return model


def tiny_center():
    generator = ContextEncoderGenerator(
        image_size=32,
        variant="center",
        encoder_filters=[8, 8, 8],
        bottleneck=16,
        decoder_filters=[8, 8],
    )
    model = ContextEncoderInpainter(generator, DCGANDiscriminator(image_size=16, filters=[8, 8]))
    model.compile(keras.optimizers.Adam(2e-3), keras.optimizers.Adam(2e-4))
    return model


def test_call_keeps_known_pixels_exactly():
    model = tiny_full()
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


@pytest.mark.parametrize("builder", [tiny_full, tiny_center])
def test_one_fit_step_trains_generator_and_discriminator(builder):
    model = builder()
    history = assert_fit_step_trains(model, random_batch(4, 32))
    assert {"g_loss", "rec_loss", "adv_loss", "d_loss", "hole_psnr"} <= set(history.history)
    assert int(model.step_counter.numpy()) == 1


def test_without_discriminator_trains_on_reconstruction_only():
    model = tiny_full(discriminator=False)
    history = assert_fit_step_trains(model, random_batch(4, 32), expect_discriminator=False)
    assert history.history["g_loss"] == history.history["rec_loss"]


def test_log_mse_reconstruction_is_the_mean_log_hole_mse_and_round_trips(tmp_path):
    from keras_inpaint.losses import hole_log_l2

    generator = tiny_generator()
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
    model = tiny_full()
    with pytest.raises(ValueError, match="d_optimizer"):
        model.compile(g_optimizer=keras.optimizers.Adam())


def test_optimizers_are_built_before_fit():
    model = tiny_full()
    assert model.g_optimizer.built and model.d_optimizer.built


def test_keras_file_restores_weights_optimizers_and_step(tmp_path):
    model = tiny_full()
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


def test_evaluate_reports_losses_and_quality():
    model = tiny_full()
    logs = model.evaluate(np_batches(random_batch(4, 32)).take(2), verbose=0, return_dict=True)
    assert {"g_loss", "d_loss", "psnr", "hole_psnr", "hole_l1"} <= set(logs)
    assert all(np.isfinite(value) for value in logs.values())


@pytest.mark.slow
def test_mirrored_strategy_matches_single_device():
    """Two logical CPU devices give the same losses as one device (same data, same init)."""
    results = run_on_two_cpus(
        """
        from models.test_inpainter import tiny_full
        from test_case import random_batch
        batch = random_batch(8, 32)
        results = {}
        for mode, strategy in strategies():
            with strategy.scope():
                model = tiny_full()
            data = tf.data.Dataset.from_tensors(batch).repeat().take(3)
            history = model.fit(data, epochs=1, verbose=0)
            results[mode] = {k: float(v[-1]) for k, v in history.history.items()}
            results[mode + "_replicas"] = strategy.num_replicas_in_sync
        """
    )
    assert results["mirrored_replicas"] == 2 and results["single_replicas"] == 1
    for name in ("g_loss", "rec_loss", "adv_loss", "d_loss", "psnr"):
        assert results["mirrored"][name] == pytest.approx(results["single"][name], rel=2e-2), name
