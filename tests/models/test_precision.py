"""Mixed precision: every wrapper trains under `mixed_bfloat16` and `mixed_float16`.

Weights stay float32, and so do the composite and the losses; under float16 the
optimizers are wrapped in `keras.optimizers.LossScaleOptimizer` and the step
scales the loss through them. A mixed model saves, reloads and exports with the
float32 interface; the `precision` option of recipes and `keras-inpaint train`
is checked, and the global policy is restored after a run. See
https://keras.io/api/mixed_precision/ for the policies.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_case import (
    TINY_WRAPPERS,
    assert_export_matches,
    assert_fit_step_trains,
    random_batch,
    tiny_recipe,
)

from keras_inpaint import cli
from keras_inpaint.training import recipes, train, trainer
from keras_inpaint.training.recipes import (
    PRECISIONS,
    build_inpainter,
    load_recipe,
    precision_policy,
    resolve_precision,
    validate_recipe,
)

MIXED = ("mixed_bfloat16", "mixed_float16")


def build_under(policy, wrapper, seed=0):
    """The tiny `wrapper`, built and compiled under `policy`, and a batch for it."""
    builder, size = TINY_WRAPPERS[wrapper]
    keras.utils.set_random_seed(seed)
    with precision_policy(policy):
        model = builder()
    return model, random_batch(2, size, seed=seed)


def assert_float32_interface(model, batch):
    """Variables, the composite and every generator loss term are float32."""
    floats = [v for v in model.weights if v.dtype != "int64"]
    assert floats and all(v.dtype == "float32" for v in floats)
    (masked_image, mask), image = batch
    assert model((masked_image, mask), training=False).dtype == "float32"
    outputs = dict(model.generator_outputs(masked_image, mask, training=False))
    prediction = outputs.pop("prediction")
    composite = model.compose(prediction, masked_image, mask)
    assert composite.dtype == "float32"
    losses = model.generator_losses(
        image, prediction, composite, mask, training=False, adversarial=False, **outputs
    )
    assert {name: value.dtype for name, value in losses.items()} == dict.fromkeys(losses, "float32")


def _small_initial_scale(optimizer):
    return keras.optimizers.LossScaleOptimizer(
        type(optimizer.inner_optimizer).from_config(optimizer.inner_optimizer.get_config()),
        initial_scale=2.0**4,
    )


@pytest.mark.large
@pytest.mark.parametrize("policy", MIXED)
@pytest.mark.parametrize("wrapper", sorted(TINY_WRAPPERS))
def test_one_fit_step_trains_every_wrapper_under_mixed_precision(wrapper, policy):
    model, batch = build_under(policy, wrapper)
    assert keras.mixed_precision.dtype_policy().name == "float32"
    assert model.generator.dtype_policy.name == policy
    scaled = policy == "mixed_float16"
    optimizers = [model.g_optimizer] + ([model.d_optimizer] if model.discriminator else [])
    for optimizer in optimizers:
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == scaled
    if scaled:
        # The default initial scale 2**15 overflows some tiny networks' float16 gradients,
        # and a step whose gradients overflow is skipped (the scale halves): start lower.
        model.compile(*[_small_initial_scale(optimizer) for optimizer in optimizers])
    assert_fit_step_trains(model, batch, expect_discriminator=model.discriminator is not None)
    assert_float32_interface(model, batch)


def _generator_step_size(policy, optimizer_factory):
    """How far one fit step moves the tiny PConv UNet's weights (an L2 norm)."""
    model, batch = build_under(policy, "pconv_unet")
    model.compile(optimizer_factory())
    before = [np.array(v) for v in model.generator.trainable_variables]
    model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    after = [np.array(v) for v in model.generator.trainable_variables]
    return np.sqrt(sum(np.sum((b - a) ** 2) for a, b in zip(before, after, strict=True)))


def test_float16_steps_scale_the_loss_and_unscale_the_gradients():
    """With SGD a step is proportional to the gradient: a skipped (un)scaling shows."""

    def sgd():
        return keras.optimizers.SGD(0.1)

    reference = _generator_step_size("float32", sgd)
    scaled = _generator_step_size("mixed_float16", sgd)
    assert reference > 0
    assert 0.8 < scaled / reference < 1.25


def test_an_optimizer_already_wrapped_is_kept_and_auto_scale_loss_false_keeps_it_plain():
    model, _ = build_under("mixed_float16", "pconv_unet")
    wrapped = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(), initial_scale=8.0)
    model.compile(wrapped)
    assert model.g_optimizer is wrapped and model.optimizer is wrapped
    plain = keras.optimizers.Adam()
    model.compile(plain, auto_scale_loss=False)
    assert model.g_optimizer is plain


def test_float32_and_bfloat16_keep_the_plain_optimizers():
    for policy in ("float32", "mixed_bfloat16"):
        model, _ = build_under(policy, "patch_gan")
        assert type(model.g_optimizer) is keras.optimizers.Adam
        assert type(model.d_optimizer) is keras.optimizers.Adam


@pytest.mark.parametrize("policy", MIXED)
def test_a_mixed_model_reloads_from_a_keras_file_in_float32(policy, tmp_path):
    """The networks are rebuilt under the loading process's float32 policy, same weights."""
    model, batch = build_under(policy, "patch_gan")
    model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    layers = list(restored.generator._flatten_layers()) + list(
        restored.discriminator._flatten_layers()
    )
    assert {layer.dtype_policy.name for layer in layers} == {"float32"}
    for saved, loaded in zip(model.weights, restored.weights, strict=True):
        np.testing.assert_array_equal(np.array(loaded), np.array(saved))
    (masked_image, mask), _ = batch
    expected = model((masked_image, mask), training=False)
    actual = restored((masked_image, mask), training=False)
    assert actual.dtype == "float32"
    # The mixed model rounds its activations to 8 (bfloat16) or 11 (float16) bits.
    np.testing.assert_allclose(np.array(actual), np.array(expected), atol=0.05)
    scaled = isinstance(restored.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16")
    assert keras.mixed_precision.dtype_policy().name == "float32"


@pytest.mark.large
@pytest.mark.parametrize("policy", MIXED)
def test_a_mixed_model_exports_uint8_in_and_out(policy, tmp_path):
    model, batch = build_under(policy, "patch_gan")
    assert_export_matches(model, batch, tmp_path)


# --- The precision option ---------------------------------------------------------------------


def test_the_policy_is_restored_after_an_error_inside_the_scope():
    with pytest.raises(RuntimeError, match="inside"):
        with precision_policy("mixed_float16"):
            assert keras.mixed_precision.dtype_policy().name == "mixed_float16"
            raise RuntimeError("inside")
    assert keras.mixed_precision.dtype_policy().name == "float32"


@pytest.mark.parametrize(
    "training, message",
    [
        ({"precision": "float16"}, r"precision must be one of .*mixed_bfloat16.*got 'float16'"),
        ({"precision": None}, "precision must be one of"),
        ({"jit_compile": "yes"}, "training.jit_compile must be true or false; got 'yes'"),
    ],
)
def test_recipes_reject_a_bad_precision_or_jit_compile(training, message):
    recipe = load_recipe("context_encoder/builtin_64")
    recipe["training"].update(training)
    with pytest.raises(ValueError, match=message):
        validate_recipe(recipe)


def test_a_recipe_with_the_options_is_valid_and_compiles_as_it_says():
    recipe = load_recipe("context_encoder/builtin_64")
    recipe["training"].update(precision="mixed_bfloat16", jit_compile=True)
    validate_recipe(recipe)
    assert build_inpainter(recipe).jit_compile is True
    assert build_inpainter(recipe, jit_compile=False).jit_compile is False


def test_the_command_line_offers_the_recipes_precisions():
    assert cli.PRECISIONS == PRECISIONS
    args = cli.build_parser().parse_args(["train", "--precision", "mixed_float16", "--jit-compile"])
    assert (args.precision, args.jit_compile) == ("mixed_float16", True)
    defaults = cli.build_parser().parse_args(["train"])
    assert (defaults.precision, defaults.jit_compile) == (None, None)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--precision", "float16"])


@pytest.mark.large
def test_a_run_trains_under_the_recipes_precision_and_restores_the_policy(tmp_path, monkeypatch):
    built = []

    def build_and_keep(recipe, **kwargs):
        built.append(build_inpainter(recipe, **kwargs))
        return built[-1]

    monkeypatch.setattr(trainer, "build_inpainter", build_and_keep)
    recipe = tiny_recipe(tmp_path, steps=1, batch_size=2, precision="mixed_bfloat16")
    summary = train(recipe, out_dir=tmp_path / "run", export=False, verbose=0, jit_compile=True)
    assert keras.mixed_precision.dtype_policy().name == "float32"
    assert np.isfinite(summary["history"]["g_loss"]).all()
    (model,) = built
    assert model.generator.dtype_policy.name == "mixed_bfloat16"
    assert model.jit_compile is True
    assert int(model.step_counter.numpy()) == 1


def test_a_bad_precision_fails_before_the_run_directory_is_made(tmp_path):
    recipe = tiny_recipe(tmp_path, steps=1, batch_size=2, precision="float32")
    with pytest.raises(ValueError, match="precision must be one of"):
        train(recipe, out_dir=tmp_path / "run", precision="float64", verbose=0)
    assert not (tmp_path / "run").exists()
    assert keras.mixed_precision.dtype_policy().name == "float32"


def test_auto_is_bfloat16_where_the_processor_computes_it():
    native = lambda: (True, "the CPU has bfloat16 arithmetic (avx512_bf16)")  # noqa: E731
    emulated = lambda: (False, "the CPU has no bfloat16 arithmetic")  # noqa: E731
    assert resolve_precision("auto", hardware=native) == (
        "mixed_bfloat16",
        "auto: the CPU has bfloat16 arithmetic (avx512_bf16)",
    )
    assert resolve_precision("auto", hardware=emulated)[0] == "float32"
    assert resolve_precision("mixed_bfloat16", hardware=emulated) == ("mixed_bfloat16", "")
    with pytest.raises(ValueError, match="resolve 'auto' first"):
        with precision_policy("auto"):
            pass


@pytest.mark.large
def test_a_run_keeps_the_precision_it_started_under(tmp_path, monkeypatch, capsys):
    built = []

    def build_and_keep(recipe, **kwargs):
        built.append(build_inpainter(recipe, **kwargs))
        return built[-1]

    monkeypatch.setattr(trainer, "build_inpainter", build_and_keep)
    monkeypatch.setattr(
        recipes, "bfloat16_hardware", lambda: (True, "the CPU has bfloat16 arithmetic (amx_bf16)")
    )
    run = tmp_path / "run"
    train(tiny_recipe(tmp_path, steps=1, batch_size=2), out_dir=run, export=False, precision="auto")
    assert built[-1].generator.dtype_policy.name == "mixed_bfloat16"
    assert "precision mixed_bfloat16 (auto: the CPU has bfloat16 arithmetic (amx_bf16))" in (
        capsys.readouterr().err
    )
    assert json.loads((run / "recipe.json").read_text())["precision"] == "mixed_bfloat16"

    # Moved to hardware without bfloat16: "auto" and no flag both resume in bfloat16.
    monkeypatch.setattr(recipes, "bfloat16_hardware", lambda: (False, "no bfloat16"))
    train(tiny_recipe(tmp_path, epochs=2, steps=1, batch_size=2), out_dir=run, export=False)
    train(
        tiny_recipe(tmp_path, epochs=3, steps=1, batch_size=2),
        out_dir=run,
        export=False,
        precision="auto",
    )
    assert [model.generator.dtype_policy.name for model in built[1:]] == ["mixed_bfloat16"] * 2
    assert int(built[-1].step_counter.numpy()) == 3

    # Another policy asked for explicitly is refused, and the record is left as it was.
    with pytest.raises(ValueError, match="Resume it with --precision mixed_bfloat16 or auto"):
        train(tiny_recipe(tmp_path, epochs=4, steps=1), out_dir=run, precision="float32")
    assert json.loads((run / "recipe.json").read_text())["precision"] == "mixed_bfloat16"
