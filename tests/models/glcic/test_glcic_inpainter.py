"""GLCIC's training wrapper: the three-phase schedule, resuming inside it, losses, export."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import (
    assert_export_matches,
    assert_fit_step_trains,
    assert_keras_round_trip,
    changed,
    random_batch,
    run_on_two_cpus,
    snapshot,
)

from keras_inpaint.losses import discriminator_bce
from keras_inpaint.models.glcic import GLCICDiscriminator, GLCICGenerator, GLCICInpainter
from keras_inpaint.models.patch_gan import PatchGANDiscriminator


def tiny_networks():
    generator = GLCICGenerator(
        image_size=32, base_filters=8, dilation_rates=[1, 2, 4, 8], skip_connections=True
    )
    discriminator = GLCICDiscriminator(
        image_size=32, local_size=16, global_filters=[8, 16, 16], local_filters=[8, 16], fc_units=32
    )
    return generator, discriminator


def tiny_glcic(tc=2, td=2, discriminator=True, networks=None, **kwargs):
    """A 32x32 GLCIC with a few thousand weights; Adam, so a zero-gradient step would show."""
    generator, critic = networks or tiny_networks()
    critic = critic if discriminator else None
    model = GLCICInpainter(generator, critic, tc=tc, td=td, **kwargs)
    model.compile(
        keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3) if discriminator else None
    )
    return model


@pytest.fixture(scope="module")
def networks():
    """Shared by the tests that do not train (building networks dominates their time)."""
    return tiny_networks()


def batches(batch):
    return tf.data.Dataset.from_tensors(batch).repeat()


def one_step(model, batch):
    """Fit one step; return (generator changed, discriminator changed, logs)."""
    generator_before = snapshot(model.generator.variables)
    discriminator_before = snapshot(model.discriminator.variables)
    history = model.fit(batches(batch), epochs=1, steps_per_epoch=1, verbose=0)
    logs = {name: values[-1] for name, values in history.history.items()}
    return (
        changed(generator_before, model.generator.variables),
        changed(discriminator_before, model.discriminator.variables),
        logs,
    )


@pytest.mark.large
def test_phase_of_each_step(networks):
    assert [int(tiny_glcic(2, 2, networks=networks).phase(s)) for s in range(7)] == [
        1,
        1,
        2,
        2,
        3,
        3,
        3,
    ]
    assert [int(tiny_glcic(0, 1, networks=networks).phase(s)) for s in range(3)] == [2, 3, 3]
    assert [int(tiny_glcic(1, 0, networks=networks).phase(s)) for s in range(3)] == [1, 3, 3]


def test_train_schedule_of_each_phase(networks):
    model = tiny_glcic(2, 2, networks=networks)
    schedules = [tuple(bool(flag) for flag in model.train_schedule(s)) for s in range(5)]
    # (train_generator, train_discriminator, adversarial) in phases 1, 1, 2, 2, 3.
    assert schedules == [(True, False, False)] * 2 + [(False, True, False)] * 2 + [(True,) * 3]
    # Without a discriminator, phase 1 forever: nothing of D is scheduled nor logged.
    alone = tiny_glcic(2, 2, discriminator=False, networks=networks)
    assert tuple(alone.train_schedule(10)) == (True, False, False)
    assert alone.loss_names == ("g_loss", "rec_loss")
    assert model.loss_names == ("g_loss", "rec_loss", "adv_loss", "d_loss")


@pytest.mark.large
def test_schedule_switches_exactly_and_survives_a_save_in_phase_two(tmp_path):
    """Tc = Td = 2: steps 0-1 train G only, 2-3 D only, 4- both; every variable is checked.

    The model is saved after step 2 (phase 2) and reloaded from the `.keras`
    file; the reloaded model runs steps 3-5, so Tc - 1, Tc, Tc + Td - 1 and
    Tc + Td are all checked, the last two after the resume.
    """
    model = tiny_glcic(tc=2, td=2)
    batch = random_batch(4, 32)
    expected = {0: (True, False), 1: (True, False), 2: (False, True), 3: (False, True)}
    expected.update({4: (True, True), 5: (True, True)})
    for step, (generator_moves, discriminator_moves) in expected.items():
        if step == 3:
            model = assert_keras_round_trip(model, batch[0], tmp_path)
            assert int(model.phase()) == 2 and (model.tc, model.td) == (2, 2)
            assert int(model.d_optimizer.iterations.numpy()) == 1
        assert int(model.step_counter.numpy()) == step
        if step == 5:
            assert_fit_step_trains(model, batch)
            continue
        generator_changed, discriminator_changed, logs = one_step(model, batch)
        assert (generator_changed, discriminator_changed) == (generator_moves, discriminator_moves)
        phase = 1 if step < 2 else 2 if step < 4 else 3
        # Logged terms follow the phase: no D loss in phase 1, no G loss in phase 2.
        assert (logs["d_loss"] != 0) == (phase >= 2), (step, logs)
        assert (logs["g_loss"] != 0) == (phase != 2), (step, logs)
        assert (logs["adv_loss"] != 0) == (phase == 3), (step, logs)
        assert logs["rec_loss"] > 0 and np.isfinite(list(logs.values())).all()
    # The optimizers stepped only when their network trained (2 + 2 each).
    assert int(model.g_optimizer.iterations.numpy()) == 4
    assert int(model.d_optimizer.iterations.numpy()) == 4


@pytest.mark.large
def test_losses_follow_the_options(networks):
    batch = random_batch(4, 32)
    (masked_image, mask), image = batch
    losses = {}
    for option in ("minimax", "non_saturating"):
        model = tiny_glcic(generator_loss=option, alpha=0.5, networks=networks)
        prediction = model.generator([masked_image, mask])
        composite = model.compose(prediction, masked_image, mask)
        losses[option] = model.generator_losses(image, prediction, composite, mask, False)
    # log(1 - D) < 0 < -log D, and g_loss = rec + alpha * adv.
    assert float(losses["minimax"]["adv_loss"]) < 0 < float(losses["non_saturating"]["adv_loss"])
    for terms in losses.values():
        expected = float(terms["rec_loss"]) + 0.5 * float(terms["adv_loss"])
        assert float(terms["g_loss"]) == pytest.approx(expected, rel=1e-5)

    model = tiny_glcic(real_label=0.75, real_patch="hole", networks=networks)
    d_loss = model.discriminator_losses(image, None, image, mask, False)["d_loss"]
    scores = model.discriminator([image, mask])
    expected = discriminator_bce(scores, scores, real_label=0.75)
    assert float(d_loss) == pytest.approx(float(expected), rel=1e-5)


def test_reconstruction_loss_is_the_hole_mse(networks):
    model = tiny_glcic(networks=networks)
    (_, mask), image = random_batch(4, 32)
    shifted = image + 0.5 * mask  # wrong by 0.5 in the hole, right elsewhere
    assert float(model.reconstruction_loss(image, shifted, mask)) == pytest.approx(0.25)


@pytest.mark.large
def test_log_mse_reconstruction_is_the_mean_log_of_each_images_hole_mse(networks):
    model = tiny_glcic(networks=networks, reconstruction="log_mse")
    (_, mask), image = random_batch(2, 32)
    errors = np.array([0.5, 0.05], "float32")[:, None, None, None]
    shifted = image + errors * mask  # image 0 wrong by 0.5 in its hole, image 1 by 0.05
    expected = np.mean(np.log10(np.square(errors[:, 0, 0, 0]) + 1e-4))
    loss = float(model.reconstruction_loss(image, shifted, mask))
    assert loss == pytest.approx(expected, rel=1e-5)
    # The plain MSE would be the mean of the squares: a wrong option fails here.
    assert abs(loss - np.log10(np.mean(np.square(errors)))) > 0.3
    history = assert_fit_step_trains(
        tiny_glcic(discriminator=False, networks=networks, reconstruction="log_mse"),
        random_batch(4, 32),
        expect_discriminator=False,
    )
    assert history.history["rec_loss"][0] < 0  # log10 of MSEs below 1
    assert GLCICInpainter.from_config(model.get_config()).reconstruction == "log_mse"


def test_real_patch_masks(networks):
    model = tiny_glcic(networks=networks)
    (_, mask), image = random_batch(16, 32)
    patches = keras.ops.convert_to_numpy(model.real_patch_mask(image, mask))
    corners = set()
    for patch in patches[..., 0]:
        ys, xs = np.nonzero(patch)
        assert patch.sum() == 16 * 16  # one full local-size box inside the image
        assert (ys.max() - ys.min(), xs.max() - xs.min()) == (15, 15)
        corners.add((ys.min(), xs.min()))
    assert len(corners) > 8  # placed at random
    same = tiny_glcic(real_patch="hole", networks=networks).real_patch_mask(image, mask)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(same), mask.numpy())


@pytest.mark.large
def test_real_patches_follow_the_seed_and_the_saved_step_counter(networks):
    """The patches of step t depend on the seed and t only, so a resumed run continues them."""
    (_, mask), image = random_batch(8, 32)

    def patches(seed, step):
        model = tiny_glcic(networks=networks, seed=seed)
        model.step_counter.assign(step)
        return keras.ops.convert_to_numpy(model.real_patch_mask(image, mask))

    np.testing.assert_array_equal(patches(3, 5), patches(3, 5))
    assert not np.array_equal(patches(3, 5), patches(3, 6))
    assert not np.array_equal(patches(3, 5), patches(4, 5))


def test_without_discriminator_trains_on_the_hole_mse(networks):
    model = tiny_glcic(discriminator=False, networks=networks)
    history = assert_fit_step_trains(model, random_batch(4, 32), expect_discriminator=False)
    assert history.history["g_loss"] == history.history["rec_loss"]
    assert not {"adv_loss", "d_loss"} & set(history.history)


@pytest.mark.large
def test_evaluate_reports_every_term(networks):
    model = tiny_glcic(networks=networks)
    logs = model.evaluate(batches(random_batch(4, 32)).take(2), verbose=0, return_dict=True)
    assert {"g_loss", "rec_loss", "adv_loss", "d_loss", "psnr", "hole_psnr"} <= set(logs)
    assert all(np.isfinite(value) for value in logs.values())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tc": -1}, "tc"),
        ({"generator_loss": "hinge"}, "generator_loss"),
        ({"real_label": 0.0}, "real_label"),
        ({"real_patch": "center"}, "real_patch"),
        ({"reconstruction": "l1"}, "reconstruction"),
    ],
)
def test_invalid_arguments_are_explained(networks, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_glcic(networks=networks, **kwargs)


def test_random_real_patches_need_a_local_size(networks):
    generator, _ = networks
    patch_gan = PatchGANDiscriminator(image_size=32, filters=8, num_layers=2)
    with pytest.raises(ValueError, match="local_size"):
        GLCICInpainter(generator, patch_gan)


def test_inpainter_of_any_size_runs_in_a_graph_of_unknown_size():
    generator = GLCICGenerator(image_size=None, base_filters=8, dilation_rates=[1, 2, 4, 8])
    model = GLCICInpainter(generator)
    spec = [tf.TensorSpec([None, None, None, 3]), tf.TensorSpec([None, None, None, 1])]
    run = tf.function(lambda image, mask: model((image, mask)), input_signature=spec)
    image = np.random.default_rng(0).uniform(-1, 1, (2, 36, 44, 3)).astype("float32")
    mask = np.zeros((2, 36, 44, 1), "float32")
    mask[:, 8:20, 12:30] = 1.0
    composite = run(image * (1 - mask), mask).numpy()
    assert composite.shape == (2, 36, 44, 3)
    np.testing.assert_array_equal(composite[mask[..., 0] == 0], image[mask[..., 0] == 0])


@pytest.mark.large
def test_export_matches_the_model(networks, tmp_path):
    assert_export_matches(tiny_glcic(networks=networks), random_batch(4, 32), tmp_path)


@pytest.mark.large
def test_training_run_stopped_in_phase_two_resumes_in_phase_two(tmp_path):
    """`keras_inpaint.training.train`: BackupAndRestore brings the step counter back."""
    from keras_inpaint.training import load_recipe, train

    recipe = load_recipe("glcic/builtin_64")
    recipe["name"] = "tests/glcic_tiny_32"
    recipe["image_size"] = 32
    recipe["inpainter"]["config"].update(tc=2, td=4)
    recipe["generator"]["config"].update(image_size=32, base_filters=4)
    recipe["discriminator"]["config"].update(
        image_size=32, local_size=16, global_filters=[4, 4], local_filters=[4], fc_units=8
    )
    recipe["training"] = {"batch_size": 4, "epochs": 2, "steps_per_epoch": 2}
    recipe["training"]["validation_batches"] = 1
    run_dir = tmp_path / "run"
    train(recipe, out_dir=run_dir, export=False, verbose=0)
    first = keras.saving.load_model(run_dir / "checkpoints" / "last.keras", safe_mode=True)
    assert int(first.step_counter.numpy()) == 4 and int(first.phase()) == 2

    recipe["training"]["epochs"] = 3  # the same run, one epoch longer: resumes from the backup
    train(recipe, out_dir=run_dir, export=False, verbose=0)
    second = keras.saving.load_model(run_dir / "checkpoints" / "last.keras", safe_mode=True)
    assert int(second.step_counter.numpy()) == 6
    # Steps 4 and 5 were phase 2: the generator is exactly the first run's, D moved.
    for old, new in zip(first.generator.variables, second.generator.variables, strict=True):
        np.testing.assert_array_equal(np.array(new), np.array(old))
    assert changed(snapshot(first.discriminator.variables), second.discriminator.variables)


@pytest.mark.large
def test_mirrored_strategy_follows_the_schedule_and_matches_one_device():
    """Two logical CPUs: the gated optimizer steps work across replicas, same losses."""
    results = run_on_two_cpus(
        """
        from models.glcic.test_glcic_inpainter import one_step, tiny_glcic
        from test_case import random_batch
        batch = random_batch(8, 32)
        results = {}
        for mode, strategy in strategies():
            with strategy.scope():
                model = tiny_glcic(tc=2, td=2, real_patch="hole")
            steps = [one_step(model, batch) for _ in range(6)]
            results[mode] = {
                "moved": [[bool(g), bool(d)] for g, d, _ in steps],
                "logs": [{k: float(v) for k, v in logs.items()} for _, _, logs in steps],
                "replicas": strategy.num_replicas_in_sync,
                "iterations": [int(model.g_optimizer.iterations.numpy()),
                               int(model.d_optimizer.iterations.numpy())],
            }
        """
    )
    assert results["mirrored"]["replicas"] == 2 and results["single"]["replicas"] == 1
    schedule = [[True, False]] * 2 + [[False, True]] * 2 + [[True, True]] * 2
    for mode in ("single", "mirrored"):
        assert results[mode]["moved"] == schedule, mode
        assert results[mode]["iterations"] == [4, 4], mode
    # BatchNorm normalises each replica's 4 images separately, so the losses are close,
    # not equal; D's, on separately normalised real and fake batches, differ most (~5 %).
    tolerances = {"g_loss": 2e-2, "rec_loss": 2e-2, "psnr": 2e-2, "d_loss": 0.1}
    pairs = zip(results["single"]["logs"], results["mirrored"]["logs"], strict=True)
    for single, mirrored in pairs:
        for name, rel in tolerances.items():
            assert mirrored[name] == pytest.approx(single[name], rel=rel, abs=1e-6), name
