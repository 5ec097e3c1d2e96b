import shutil

import keras
import numpy as np
import pytest
from test_case import (
    assert_config_round_trip,
    assert_export_matches,
    assert_fit_step_trains,
    assert_keras_round_trip,
    random_batch,
)

from keras_inpaint import metrics
from keras_inpaint.losses import hole_l1, total_variation, valid_l1
from keras_inpaint.losses import perceptual as perceptual_module
from keras_inpaint.losses.perceptual import perceptual_loss, style_loss
from keras_inpaint.models.pconv_unet import PConvInpainter, PConvUNet
from keras_inpaint.resources import resource_dir
from keras_inpaint.training import train
from keras_inpaint.training.recipes import build_networks, load_recipe

TINY = {
    "preset": "cifar_net2",
    "encoder_filters": [4, 4, 8, 8, 8, 8, 8, 8],
    "decoder_filters": [8, 8, 8, 8, 8, 4, 4],
}


def tiny_model(objective="l2", **kwargs):
    generator_kwargs = kwargs.pop("generator", {})
    model = PConvInpainter(
        PConvUNet(**TINY, **generator_kwargs), objective=objective, vgg_weights=None, **kwargs
    )
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3))
    return model


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


# --- Losses -------------------------------------------------------------------------------------


@pytest.mark.large
def test_l2_objective_is_the_seed_mse_in_unit_range():
    model = tiny_model("l2")
    (masked_image, mask), image = random_batch(4, 32)
    prediction = model.generator([masked_image, mask])
    composite = model.compose(prediction, masked_image, mask)
    losses = model.generator_losses(image, prediction, composite, mask, training=False)
    assert sorted(losses) == ["g_loss", "l2_loss"]
    # keras_inpaint.metrics.l2: per-image MSE on [0, 1] pixels over the whole image.
    expected = float(np.mean(to_numpy(metrics.l2(image, prediction))))
    np.testing.assert_allclose(float(losses["l2_loss"]), expected, rtol=1e-5)
    assert float(losses["g_loss"]) == float(losses["l2_loss"])


@pytest.mark.large
def test_l2_objective_fit_step():
    model = tiny_model("l2")
    history = assert_fit_step_trains(model, random_batch(4, 32), expect_discriminator=False)
    # Its own terms and the quality metrics: no other objective's, no discriminator's.
    assert set(history.history) == {"g_loss", "l2_loss", "psnr", "hole_psnr", "hole_l1"}


LIU_TERMS = (
    "valid_loss",
    "hole_loss",
    "perceptual_loss",
    "style_out_loss",
    "style_comp_loss",
    "tv_loss",
)


@pytest.mark.parametrize(
    "objective, names",
    [
        ("l2", ("g_loss", "l2_loss")),
        ("log_mse", ("g_loss", "l2_loss", "rec_loss")),
        ("liu", ("g_loss", "l2_loss", *LIU_TERMS)),
    ],
)
def test_each_objective_logs_exactly_its_own_terms(objective, names):
    model = PConvInpainter(PConvUNet(**TINY), objective=objective, vgg_weights=None)
    assert model.loss_names == names
    assert [metric.name for metric in model.metrics[: len(names)]] == list(names)
    assert PConvInpainter.from_config(model.get_config()).loss_names == model.loss_names


@pytest.mark.large
def test_log_mse_objective_is_the_mean_log_hole_mse_and_trains():
    from keras_inpaint.losses import hole_log_l2

    model = tiny_model("log_mse", generator={"output_activation": "linear", "residual": True})
    (masked_image, mask), image = random_batch(4, 32)
    prediction = model.generator([masked_image, mask])
    composite = model.compose(prediction, masked_image, mask)
    losses = model.generator_losses(image, prediction, composite, mask, training=False)
    assert sorted(losses) == ["g_loss", "l2_loss", "rec_loss"]
    per_image = [
        np.log10(
            np.sum(to_numpy(mask[b]) * (to_numpy(image[b]) - to_numpy(prediction[b])) ** 2)
            / (3 * np.sum(to_numpy(mask[b])))
            + 1e-4
        )
        for b in range(4)
    ]
    np.testing.assert_allclose(float(losses["g_loss"]), np.mean(per_image), rtol=1e-5)
    assert float(losses["rec_loss"]) == float(hole_log_l2(image, prediction, mask))
    history = assert_fit_step_trains(model, random_batch(4, 32), expect_discriminator=False)
    assert {"g_loss", "rec_loss"} <= set(history.history)
    assert "style_out_loss" not in history.history


@pytest.mark.large
def test_liu_objective_terms_and_weights():
    model = tiny_model("liu")
    (masked_image, mask), image = random_batch(2, 32)
    prediction = model.generator([masked_image, mask])
    composite = model.compose(prediction, masked_image, mask)
    losses = model.generator_losses(image, prediction, composite, mask, training=False)
    vgg = model.vgg_features()
    gt, out, comp = vgg(image), vgg(prediction), vgg(composite)
    expected = {
        "valid_loss": valid_l1(image, prediction, mask),
        "hole_loss": hole_l1(image, prediction, mask),
        "perceptual_loss": perceptual_loss(gt, out) + perceptual_loss(gt, comp),
        "style_out_loss": style_loss(gt, out),
        "style_comp_loss": style_loss(gt, comp),
        "tv_loss": total_variation(composite, mask),
    }
    for name, value in expected.items():
        np.testing.assert_allclose(float(losses[name]), float(value), rtol=1e-4, err_msg=name)
        assert float(value) > 0.0, name
    total = (
        expected["valid_loss"]
        + 6.0 * expected["hole_loss"]
        + 0.05 * expected["perceptual_loss"]
        + 120.0 * (expected["style_out_loss"] + expected["style_comp_loss"])
        + 0.1 * expected["tv_loss"]
    )
    np.testing.assert_allclose(float(losses["g_loss"]), float(total), rtol=1e-4)


@pytest.mark.large
def test_liu_objective_fit_step():
    model = tiny_model("liu")
    history = assert_fit_step_trains(model, random_batch(4, 32), expect_discriminator=False)
    assert {"valid_loss", "hole_loss", "perceptual_loss", "tv_loss"} <= set(history.history)
    # VGG16 is not part of the model: 14.7M frozen weights stay out of checkpoints.
    assert len(model.weights) == len(model.generator.weights) + 1  # + the step counter


def test_missing_imagenet_weights_fail_at_compile(tmp_path, monkeypatch):
    monkeypatch.setattr(perceptual_module, "keras_cache_candidates", lambda: [tmp_path])
    model = PConvInpainter(PConvUNet(**TINY), objective="liu", vgg_weights="imagenet")
    with pytest.raises(FileNotFoundError, match="vgg16_weights_tf_dim_ordering"):
        model.compile(g_optimizer=keras.optimizers.Adam(1e-3))
    # The L2 objective needs no VGG16.
    PConvInpainter(PConvUNet(**TINY), objective="l2").compile(keras.optimizers.Adam(1e-3))


# --- Inference, saving, export ------------------------------------------------------------------


@pytest.mark.large
def test_call_clips_a_linear_generator():
    model = tiny_model("l2", generator={"output_activation": "linear"})
    (masked_image, mask), _ = random_batch(2, 32)
    big = model.generator.get_layer("decoder_block1_pconv")
    big.bias.assign(np.full(3, 5.0, "float32"))
    assert to_numpy(model.generator([masked_image, mask])).max() > 1.0
    composite = to_numpy(model((masked_image, mask)))
    assert composite.max() <= 1.0 and composite.min() >= -1.0


@pytest.mark.large
def test_keras_file_reloads_without_the_vgg16_file(tmp_path):
    weights = tmp_path / "vgg16_notop.weights.h5"
    keras.applications.VGG16(
        include_top=False, weights=None, input_shape=(None, None, 3)
    ).save_weights(weights)
    model = PConvInpainter(PConvUNet(**TINY), objective="liu", vgg_weights=str(weights))
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3))
    assert_config_round_trip(model.generator)
    config = model.get_config()
    assert config["objective"] == "liu" and "initial_weights" not in config
    model.save(tmp_path / "model.keras")
    weights.unlink()
    restored = assert_keras_round_trip(model, random_batch(2, 32)[0], tmp_path)
    assert type(restored) is PConvInpainter and restored.get_config() == config
    # Training the reloaded model would need the file again, and says so.
    with pytest.raises(FileNotFoundError, match="does not exist"):
        restored.vgg_features()


@pytest.mark.large
def test_export_matches(tmp_path):
    model = tiny_model("l2", generator={"output_activation": "linear"})
    assert_export_matches(model, random_batch(2, 32, seed=3), tmp_path)


# --- Two stages: frozen encoder BN, initial weights ---------------------------------------------


@pytest.mark.large
def test_freeze_encoder_batch_norm_in_fit():
    model = tiny_model("l2", freeze_encoder_batch_norm=True)
    assert model.generator.get_config()["freeze_encoder_batch_norm"] is True
    encoder_bn = model.generator.encoder_batch_norm_layers()
    frozen = [np.array(w) for layer in encoder_bn for w in layer.weights]
    trainable_ids = {id(v) for v in model.generator.trainable_variables}
    assert not any(id(w) in trainable_ids for layer in encoder_bn for w in layer.weights)
    decoder_bn = model.generator.get_layer("decoder_block2_bn")
    decoder_before = np.array(decoder_bn.moving_mean)
    assert_fit_step_trains(model, random_batch(4, 32), expect_discriminator=False)
    after = [np.array(w) for layer in encoder_bn for w in layer.weights]
    for before, now in zip(frozen, after, strict=True):
        np.testing.assert_array_equal(now, before)
    assert not np.array_equal(decoder_before, np.array(decoder_bn.moving_mean))
    assert PConvInpainter.from_config(model.get_config()).freeze_encoder_batch_norm


@pytest.mark.large
def test_initial_weights_from_a_run_directory(tmp_path):
    first = tiny_model("l2")
    checkpoint = tmp_path / "stage1" / "checkpoints" / "last.keras"
    checkpoint.parent.mkdir(parents=True)
    first.save(checkpoint)
    second = PConvInpainter(
        PConvUNet(**TINY), objective="l2", initial_weights=str(tmp_path / "stage1")
    )
    for expected, actual in zip(first.generator.weights, second.generator.weights, strict=True):
        np.testing.assert_array_equal(np.array(actual), np.array(expected))
    # A fresh generator starts elsewhere, so the check above could fail.
    assert not np.array_equal(
        np.array(PConvUNet(**TINY).weights[0]), np.array(first.generator.weights[0])
    )
    other = {**TINY, "decoder_filters": [8, 8, 8, 8, 8, 8, 4]}
    with pytest.raises(ValueError, match="decoder_block3_pconv"):
        PConvInpainter(PConvUNet(**other), objective="l2", initial_weights=str(checkpoint))
    with pytest.raises(FileNotFoundError, match="stage"):
        PConvInpainter(PConvUNet(**TINY), initial_weights=str(tmp_path / "missing"))


def test_rejects_a_discriminator_and_unknown_objectives():
    with pytest.raises(ValueError, match="discriminator"):
        PConvInpainter(PConvUNet(**TINY), discriminator=PConvUNet(**TINY))
    with pytest.raises(ValueError, match="objective"):
        PConvInpainter(PConvUNet(**TINY), objective="l1")


# --- Recipes ------------------------------------------------------------------------------------


@pytest.mark.large
def test_recipes_build():
    names = sorted(p.stem for p in (resource_dir("models") / "pconv_unet").glob("*.json"))
    assert names == [
        "builtin_32",
        "cifar10_32",
        "cifar10_32_network1",
        "photos_128",
        "places2_512_stage1",
        "places2_512_stage2",
    ]
    presets = {}
    for name in names:
        recipe = load_recipe(f"pconv_unet/{name}")
        assert recipe["inpainter"]["class"] == "PConvInpainter"
        if recipe["image_size"] == 512:
            presets[name] = recipe["generator"]["config"]["preset"]
            continue  # the 512 networks are built and counted in test_pconv_unet.py
        generator, discriminator = build_networks(recipe)
        assert discriminator is None and generator.image_size == recipe["image_size"]
        keras.backend.clear_session()
    assert presets == {"places2_512_stage1": "liu_512", "places2_512_stage2": "liu_512"}
    stage1 = load_recipe("pconv_unet/places2_512_stage1")
    stage2 = load_recipe("pconv_unet/places2_512_stage2")
    assert stage1["optimizers"]["generator"]["config"]["learning_rate"] == 2e-4
    assert stage2["optimizers"]["generator"]["config"]["learning_rate"] == 5e-5
    assert stage2["inpainter"]["config"]["freeze_encoder_batch_norm"] is True
    # Stage two starts from stage one's default run directory.
    assert stage2["inpainter"]["config"]["initial_weights"] == f"runs/{stage1['name']}"
    assert stage2["generator"] == stage1["generator"]


@pytest.mark.large
def test_stage_two_recipe_trains_from_stage_one(tmp_path):
    stage_one = tiny_model("l2")
    checkpoint = tmp_path / "stage1" / "checkpoints" / "last.keras"
    checkpoint.parent.mkdir(parents=True)
    stage_one.save(checkpoint)
    recipe = load_recipe("pconv_unet/builtin_32")
    recipe["name"] = "pconv_unet/builtin_32_stage2"
    recipe["generator"]["config"].update(TINY)
    recipe["inpainter"]["config"].update(
        freeze_encoder_batch_norm=True, initial_weights=str(tmp_path / "stage1")
    )
    recipe["optimizers"]["generator"]["config"]["learning_rate"] = 5e-5
    recipe["training"] = {
        "batch_size": 4,
        "epochs": 1,
        "steps_per_epoch": 1,
        "validation_batches": 1,
    }
    summary = train(recipe, out_dir=tmp_path / "stage2", export=False, verbose=0)
    assert np.isfinite(summary["history"]["val_l2_loss"][-1])
    # The stage-two checkpoint stands alone: it reloads after stage one is gone, and its
    # frozen encoder BatchNormalization kept stage one's statistics.
    shutil.rmtree(tmp_path / "stage1")
    restored = keras.saving.load_model(tmp_path / "stage2/checkpoints/last.keras", safe_mode=True)
    assert restored.freeze_encoder_batch_norm
    for name in ("encoder_block1_bn", "encoder_block8_bn"):
        np.testing.assert_array_equal(
            np.array(restored.generator.get_layer(name).moving_variance),
            np.array(stage_one.generator.get_layer(name).moving_variance),
        )
