"""Masks drawn inside the training step (`Inpainter(step_masks=...)`, `masks: "step"`).

Every wrapper trains a step on batches of images alone (two of them compiled
with XLA); the masks follow the seed `[mask_seed, k]` of the saved draw counter
`k`, so one seed gives one sequence of masks, and a model restored from its
weights continues that sequence.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import TINY_WRAPPERS, changed, random_batch, snapshot

from keras_inpaint.data.pipeline import build_dataset, load_data_spec
from keras_inpaint.models.context_encoder import ContextEncoderInpainter
from keras_inpaint.training import trainer
from keras_inpaint.training.recipes import load_recipe, validate_recipe

MASKS = {"kind": "random_boxes", "num_boxes": [1, 2], "box_size": [4, 12]}


def with_step_masks(model, mask_spec=MASKS, mask_seed=7, jit_compile=False):
    """A copy of a tiny wrapper (fresh weights) that draws `mask_spec` in its step."""
    config = dict(model.get_config(), step_masks=mask_spec, mask_seed=mask_seed)
    rebuilt = type(model).from_config(json.loads(json.dumps(config)))
    d_optimizer = keras.optimizers.Adam(1e-3) if rebuilt.discriminator is not None else None
    rebuilt.compile(keras.optimizers.Adam(1e-3), d_optimizer, jit_compile=jit_compile)
    return rebuilt


def images(batch_size, size):
    return random_batch(batch_size, size)[1]


def tiny(wrapper, seed=0, **options):
    builder, size = TINY_WRAPPERS[wrapper]
    keras.utils.set_random_seed(seed)
    return with_step_masks(builder(), **options), size


# Compiled with XLA: one wrapper on the shared-pass GAN step and GLCIC, whose schedule is a tensor
# (tests/models/test_jit_compile.py compiles every wrapper's step on batches that carry masks).
XLA_WRAPPERS = {"patch_gan", "glcic"}


@pytest.mark.large
@pytest.mark.parametrize("wrapper", sorted(TINY_WRAPPERS))
def test_every_wrapper_trains_a_step_on_images_alone(wrapper):
    model, size = tiny(wrapper, jit_compile=wrapper in XLA_WRAPPERS)
    networks = [model.generator] + ([model.discriminator] if model.discriminator else [])
    before = [snapshot(network.trainable_variables) for network in networks]
    history = model.fit(tf.data.Dataset.from_tensors(images(2, size)), epochs=1, verbose=0)
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{name} is not finite: {values}"
    for old, network in zip(before, networks, strict=True):
        assert changed(old, network.trainable_variables), f"{network.name} did not train"


def test_the_masks_are_the_spec_s_and_follow_the_seed():
    first, size = tiny("context_encoder_center", mask_seed=3)
    again, _ = tiny("context_encoder_center", mask_seed=3)
    other, _ = tiny("context_encoder_center", mask_seed=4)
    batch = images(4, size)
    draws = [first.draw_masks(batch).numpy() for _ in range(2)]
    assert draws[0].shape == (4, size, size, 1)
    assert set(np.unique(draws[0])) <= {0.0, 1.0} and draws[0].mean() > 0
    assert not np.array_equal(draws[0], draws[1]), "the seed generator did not advance"
    np.testing.assert_array_equal(again.draw_masks(batch).numpy(), draws[0])
    assert not np.array_equal(other.draw_masks(batch).numpy(), draws[0])


def test_the_step_trains_on_the_masks_it_draws():
    """One step with drawn masks equals one step on a batch carrying those same masks."""
    drawing, size = tiny("context_encoder_center")
    carrying, _ = tiny("context_encoder_center")
    carrying.step_masks = None
    batch = images(2, size)
    mask = with_step_masks(carrying).draw_masks(batch)  # the same seed: the first draw
    drawing.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    carried = ((batch * (1.0 - mask), mask), batch)
    carrying.fit(tf.data.Dataset.from_tensors(carried), epochs=1, verbose=0)
    for network in ("generator", "discriminator"):
        pairs = zip(
            getattr(drawing, network).weights, getattr(carrying, network).weights, strict=True
        )
        for ours, theirs in pairs:
            np.testing.assert_allclose(ours, theirs, atol=1e-6, err_msg=ours.path)


@pytest.mark.large
def test_a_restored_model_continues_the_mask_sequence(tmp_path):
    model, size = tiny("patch_gan")
    batch = tf.data.Dataset.from_tensors(images(2, size)).repeat()
    model.fit(batch, epochs=1, steps_per_epoch=3, verbose=0)
    model.save_weights(tmp_path / "training.weights.h5")
    restored, _ = tiny("patch_gan", seed=1)
    restored.load_weights(tmp_path / "training.weights.h5")
    image = images(2, size)
    np.testing.assert_array_equal(restored.draw_masks(image), model.draw_masks(image))
    saved = tmp_path / "model.keras"
    model.save(saved)
    reloaded = keras.saving.load_model(saved, safe_mode=True)
    assert reloaded.step_masks == MASKS
    np.testing.assert_array_equal(reloaded.draw_masks(image), model.draw_masks(image))


def test_batches_that_carry_masks_are_refused_with_the_fix():
    model, size = tiny("context_encoder_center")
    with pytest.raises(ValueError, match="masks_in='step'"):
        model.fit(tf.data.Dataset.from_tensors(random_batch(1, size)), epochs=1, verbose=0)


def test_a_model_without_step_masks_does_not_draw():
    builder, size = TINY_WRAPPERS["context_encoder_center"]
    with pytest.raises(ValueError, match="step_masks"):
        builder().draw_masks(images(1, size))


def test_the_pipeline_yields_images_alone_for_the_step():
    batches = build_dataset("builtin_64_boxes", 32, batch_size=2, masks_in="step")
    assert batches.element_spec.shape.as_list() == [2, 32, 32, 3]
    with pytest.raises(ValueError, match="held-out split"):
        build_dataset("builtin_64_boxes", 32, split="heldout", masks_in="step")
    with pytest.raises(ValueError, match="masks_in='device'"):
        build_dataset("builtin_64_boxes", 32, masks_in="device")


def test_where_the_trainer_draws_masks(monkeypatch):
    assert trainer.mask_place("pipeline", {"masks": "step"}) == "pipeline"
    assert trainer.mask_place(None, {"masks": "step"}) == "step"
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert trainer.mask_place(None, {}) == "pipeline"
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"])
    assert trainer.mask_place(None, {}) == "step"
    with pytest.raises(ValueError, match="--masks"):
        trainer.mask_place("device", {})


def test_a_recipe_names_where_masks_are_drawn():
    recipe = load_recipe("context_encoder/builtin_64")
    recipe["training"]["masks"] = "step"
    validate_recipe(recipe)
    recipe["training"]["masks"] = "host"
    with pytest.raises(ValueError, match="training.masks"):
        validate_recipe(recipe)


@pytest.mark.large
def test_a_run_trains_with_masks_in_the_step(tmp_path):
    recipe = load_recipe("context_encoder/builtin_64")
    recipe["name"] = "tests/masks_in_step"
    recipe["training"].update(batch_size=2, epochs=1, steps_per_epoch=2, validation_batches=1)
    summary = trainer.train(recipe, out_dir=tmp_path / "run", masks="step", export=False, verbose=0)
    assert np.isfinite(summary["history"]["g_loss"]).all()
    model = keras.saving.load_model(tmp_path / "run" / "checkpoints" / "last.keras")
    assert isinstance(model, ContextEncoderInpainter)
    assert model.step_masks == load_data_spec(recipe["data"])["masks"]
