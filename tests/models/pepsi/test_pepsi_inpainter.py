import keras
import numpy as np
import pytest
from test_case import (
    assert_export_matches,
    assert_fit_step_trains,
    assert_keras_round_trip,
    random_batch,
    tiny_context_encoder,
)

from keras_inpaint.data import masks
from keras_inpaint.losses import discriminator_hinge
from keras_inpaint.models.pepsi import PEPSIGenerator, PEPSIInpainter, REDDiscriminator
from keras_inpaint.training.recipes import build_inpainter, load_recipe

VARIANTS = {
    "pepsi": {},
    "diet": {"rate_adaptive": True},
    "separable": {"separable": True},
}


def free_form_batch(batch_size=2, size=32, seed=0):
    return random_batch(batch_size, size, seed=seed, mask_fn=masks.free_form)


def tiny_model(variant="pepsi", coarse_decay_steps=10, discriminator=True):
    options = VARIANTS[variant]
    generator = PEPSIGenerator(image_size=32, filters=4, dilation_rates=[1, 2, 2, 4], **options)
    critic = None
    if discriminator:
        critic = REDDiscriminator(
            image_size=32, filters=[8, 8, 16], separable=options.get("separable", False)
        )
    model = PEPSIInpainter(generator, critic, coarse_decay_steps=coarse_decay_steps)
    model.compile(
        keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
        keras.optimizers.Adam(4e-4, beta_1=0.5, beta_2=0.9) if discriminator else None,
    )
    return model


@pytest.mark.large
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_one_fit_step_trains_generator_and_discriminator(variant):
    model = tiny_model(variant)
    history = assert_fit_step_trains(model, free_form_batch())
    assert {"g_loss", "l1_loss", "coarse_l1_loss", "adv_loss", "d_loss"} <= set(history.history)
    assert int(model.step_counter.numpy()) == 1


@pytest.mark.large
def test_logged_losses_follow_the_paper_formula():
    model = tiny_model(coarse_decay_steps=4)
    model.step_counter.assign(1)
    logs = {k: v[0] for k, v in model.fit(_dataset(), epochs=1, verbose=0).history.items()}
    assert logs["coarse_weight"] == pytest.approx(5.0 * (1 - 1 / 4))
    expected = (
        10.0 * logs["l1_loss"]
        + 0.1 * logs["adv_loss"]
        + logs["coarse_weight"] * logs["coarse_l1_loss"]
    )
    assert logs["g_loss"] == pytest.approx(expected, rel=1e-5)


def _dataset(seed=0):
    import tensorflow as tf

    return tf.data.Dataset.from_tensors(free_form_batch(seed=seed))


@pytest.mark.parametrize(
    "step, weight", [(0, 5.0), (1, 4.5), (5, 2.5), (9, 0.5), (10, 0.0), (11, 0.0), (10**6, 0.0)]
)
def test_coarse_weight_schedule(step, weight):
    model = tiny_model(coarse_decay_steps=10, discriminator=False)
    assert float(model.coarse_weight(step)) == pytest.approx(weight)


@pytest.mark.large
def test_coarse_weight_reaches_zero_in_training_and_stays_there():
    model = tiny_model(coarse_decay_steps=2, discriminator=False)
    # One step per epoch: each epoch logs the weight used at that step.
    history = model.fit(_dataset(), epochs=4, verbose=0)
    assert history.history["coarse_weight"] == pytest.approx([5.0, 2.5, 0.0, 0.0])
    assert int(model.step_counter.numpy()) == 4


@pytest.mark.large
def test_schedule_survives_save_and_resume(tmp_path):
    model = tiny_model(coarse_decay_steps=8)
    model.fit(_dataset(), epochs=3, verbose=0)
    restored = assert_keras_round_trip(model, free_form_batch()[0], tmp_path)
    assert isinstance(restored, PEPSIInpainter)
    assert int(restored.step_counter.numpy()) == 3
    assert restored.coarse_decay_steps == 8
    assert float(restored.coarse_weight(restored.step_counter)) == pytest.approx(5.0 * 5 / 8)
    history = restored.fit(_dataset(), epochs=1, verbose=0)
    assert history.history["coarse_weight"][0] == pytest.approx(5.0 * 5 / 8)


def test_discriminator_loss_is_hinge_on_real_against_composite():
    model = tiny_model()
    (masked_image, mask), image = free_form_batch()
    composite = model((masked_image, mask))
    losses = model.discriminator_losses(image, None, composite, mask, training=False)
    expected = discriminator_hinge(
        model.discriminator(image, training=False), model.discriminator(composite, training=False)
    )
    assert float(losses["d_loss"]) == pytest.approx(float(expected))


@pytest.mark.large
def test_without_discriminator_trains_on_the_two_l1_terms():
    model = tiny_model(discriminator=False)
    history = assert_fit_step_trains(model, free_form_batch(), expect_discriminator=False)
    logs = {k: v[0] for k, v in history.history.items()}
    assert not {"adv_loss", "d_loss"} & set(logs)  # no zero terms of a missing D
    assert model.loss_names == ("g_loss", "l1_loss", "coarse_l1_loss", "coarse_weight")
    assert logs["g_loss"] == pytest.approx(10 * logs["l1_loss"] + 5 * logs["coarse_l1_loss"])


def test_generator_outputs_are_both_paths_of_the_training_model():
    model = tiny_model()
    (masked_image, mask), _ = free_form_batch()
    outputs = model.generator_outputs(masked_image, mask, training=False)
    coarse, inpainted = model.generator.training_model([masked_image, mask], training=False)
    assert sorted(outputs) == ["coarse", "prediction"]
    np.testing.assert_array_equal(np.array(outputs["coarse"]), np.array(coarse))
    np.testing.assert_array_equal(np.array(outputs["prediction"]), np.array(inpainted))
    # The coarse path is a different image: a swap of the two would show.
    assert not np.allclose(np.array(coarse), np.array(inpainted))


@pytest.mark.large
def test_evaluate_reports_both_paths():
    model = tiny_model()
    results = model.evaluate(_dataset(), verbose=0, return_dict=True)
    assert {"l1_loss", "coarse_l1_loss", "d_loss", "hole_psnr"} <= set(results)
    assert all(np.isfinite(value) for value in results.values())


def test_needs_a_two_path_generator():
    with pytest.raises(ValueError, match="training_model"):
        PEPSIInpainter(tiny_context_encoder().generator)


@pytest.mark.large
def test_small_recipe_builds_and_trains_one_step():
    model = build_inpainter(load_recipe("pepsi/builtin_64_free_form"))
    assert model.generator.output_shape == (None, 64, 64, 3)
    assert model.discriminator.output_shape == (None, 4, 4, 1)
    assert model.coarse_decay_steps == 800
    assert_fit_step_trains(model, free_form_batch(2, 64))


@pytest.mark.large
def test_export_and_reload_match(tmp_path):
    model = tiny_model()
    model.fit(_dataset(), epochs=1, verbose=0)
    assert_export_matches(model, free_form_batch(seed=3), tmp_path)
