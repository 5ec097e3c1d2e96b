"""Train-step and forward time per model: float32 vs mixed_bfloat16 vs XLA; masks in the step.

For each recipe, compiled `train_step`s on one batch of the recipe's own
masks, interleaved so that a change of load hits them alike:

- `float32`, `mixed_bfloat16` (networks built under that policy) and
  `float32` with `jit_compile=True` (the step as `fit` compiles it with XLA);
- the forward pass alone: the generator of the `float32` and of the
  `mixed_bfloat16` model called on the same batch with `training=False` (what
  inference runs), as a compiled `tf.function`;
- masks in the step (`Inpainter(step_masks=...)`, the batch of images alone,
  float32, no XLA) against masks from the pipeline, whose cost is the step on
  a batch that carries its masks plus the mask function's own time for that
  batch as a `tf.function` (the host work `build_dataset` does per batch,
  which prefetching may hide behind the step).

    python benchmarks/precision_cost.py [--tiny | --quick] [--models KEY,KEY] [--bfloat16-only]

Settings: `--tiny` the 64x64 built-in Context Encoder, batch 2, 2 runs
(seconds, for the tests); `--quick` the 128 px Context Encoder, at most
4 x 128 x 128 pixels a batch, 3 runs; the full run: every
generator family of `ZOO` (Context Encoder centre and full, GLCIC, PEPSI,
Diet-PEPSI, depthwise PEPSI, PConv UNet), at most 8 x 128 x 128 pixels a
batch, 3 runs, each model in its own process (running out of memory loses
that model's figures only, and its memory is returned before the next one).
`--models` keeps only the named `ZOO` keys and runs them in this process
(full run only);
`--bfloat16-only` times only the float32 and mixed_bfloat16 train steps and
forwards (the `xla_*` and `masks_*` keys are then absent).
`run_all.py` runs the quick and the full setting.

Prints one JSON object: `{"benchmark": "precision_cost", "setting", "machine",
"results": [{"model", "recipe", "image_size", "batch", "float32_s",
"mixed_bfloat16_s", "xla_s", "bfloat16_speedup", "xla_speedup",
"forward_float32_s", "forward_mixed_bfloat16_s", "forward_bfloat16_speedup",
"masks_step_s", "masks_pipeline_s", "masks_step_over_pipeline"}]}`; the
`*_speedup` keys are float32 seconds over the variant's.
"""

import os
import sys
import time

from benchlib import (  # noqa: E402
    child_result,
    emit,
    example_batch,
    interleaved_medians,
    log,
    machine_description,
    parse_setting,
)

ZOO = (
    ("context_encoder_center", "context_encoder/center_128", {}),
    ("context_encoder_full", "patch_gan/monet_context_encoder_128", {}),
    ("glcic", "glcic/places2_256", {"tc": 0, "td": 0}),
    ("pepsi", "pepsi/celeba_hq_256", {}),
    ("pepsi_diet", "pepsi/diet_celeba_hq_256", {}),
    ("pepsi_depthwise", "pepsi/seed_depthwise_celeba_hq_256", {}),
    ("pconv_unet", "pconv_unet/places2_512_stage1", {"vgg_weights": None}),
)
SETTINGS = {
    "tiny": {
        "zoo": (("context_encoder_builtin_64", "context_encoder/builtin_64", {}),),
        "runs": 2,
        "pixels": 2 * 64 * 64,
    },
    "quick": {"zoo": (ZOO[0],), "runs": 3, "pixels": 4 * 128 * 128},
    "full": {"zoo": ZOO, "runs": 3, "pixels": 8 * 128 * 128},
}


def _recipe(recipe_name, overrides):
    from keras_inpaint.training.recipes import load_recipe

    recipe = load_recipe(recipe_name)
    recipe["inpainter"] = dict(recipe["inpainter"])
    recipe["inpainter"]["config"] = {**recipe["inpainter"].get("config", {}), **overrides}
    return recipe


def _model(recipe, precision="float32", jit_compile=False, step_masks=None):
    from keras_inpaint.training.recipes import build_inpainter, precision_policy

    with precision_policy(precision):
        return build_inpainter(recipe, jit_compile=jit_compile, step_masks=step_masks)


def _steps(recipe, batch, bfloat16_only=False):
    """`{name: callable}`: one compiled train step per variant, the forwards, the mask draw."""
    import tensorflow as tf

    (masked_image, mask), image = batch
    inputs = [masked_image, mask]
    float32 = _model(recipe)
    bfloat16 = _model(recipe, "mixed_bfloat16")
    steps = {
        "float32": tf.function(lambda: float32.train_step(batch)),
        "mixed_bfloat16": tf.function(lambda: bfloat16.train_step(batch)),
        "forward_float32": tf.function(lambda: float32.generator(inputs, training=False)),
        "forward_mixed_bfloat16": tf.function(lambda: bfloat16.generator(inputs, training=False)),
    }
    if bfloat16_only:
        return steps
    from keras_inpaint.data import masks
    from keras_inpaint.data.pipeline import load_data_spec

    mask_spec = load_data_spec(recipe["data"])["masks"]
    xla = _model(recipe, jit_compile=True)
    in_step = _model(recipe, step_masks=mask_spec)
    mask_fn = masks.make_mask_fn(mask_spec)
    size = image.shape[1]
    return {
        **steps,
        # What `fit` runs with `jit_compile=True`.
        "xla": tf.function(lambda: xla.train_step(batch), jit_compile=True),
        "masks_step": tf.function(lambda: in_step.train_step(image)),
        "masks_only": tf.function(
            lambda: mask_fn(mask.shape[0], size, size, tf.constant([1, 3], tf.int64))
        ),
    }


def _ratio(seconds, numerator, denominator):
    return round(seconds[numerator] / seconds[denominator], 3)


def measure(key, recipe_name, overrides, config, bfloat16_only=False):
    recipe = _recipe(recipe_name, overrides)
    size = recipe["image_size"]
    batch_size = max(1, min(recipe["training"]["batch_size"], config["pixels"] // size**2))
    batch = example_batch(recipe, batch_size, size, seed=1)
    seconds = interleaved_medians(_steps(recipe, batch, bfloat16_only), config["runs"], warmup=1)
    log(f"{key}: " + ", ".join(f"{name} {value:.3f} s" for name, value in seconds.items()))
    result = {
        "model": key,
        "recipe": recipe_name,
        "image_size": size,
        "batch": batch_size,
        "float32_s": round(seconds["float32"], 4),
        "mixed_bfloat16_s": round(seconds["mixed_bfloat16"], 4),
        "bfloat16_speedup": _ratio(seconds, "float32", "mixed_bfloat16"),
        "forward_float32_s": round(seconds["forward_float32"], 4),
        "forward_mixed_bfloat16_s": round(seconds["forward_mixed_bfloat16"], 4),
        "forward_bfloat16_speedup": _ratio(seconds, "forward_float32", "forward_mixed_bfloat16"),
    }
    if bfloat16_only:
        return result
    pipeline_s = seconds["float32"] + seconds["masks_only"]
    return {
        **result,
        "xla_s": round(seconds["xla"], 4),
        "xla_speedup": _ratio(seconds, "float32", "xla"),
        "masks_step_s": round(seconds["masks_step"], 4),
        "masks_pipeline_s": round(pipeline_s, 4),
        "masks_step_over_pipeline": round(seconds["masks_step"] / pipeline_s, 3),
    }


def _add_arguments(parser):
    keys = ",".join(key for key, _, _ in ZOO)
    parser.add_argument("--models", help=f"comma-separated ZOO keys of the full run ({keys})")
    parser.add_argument(
        "--bfloat16-only",
        action="store_true",
        help="only the float32 and mixed_bfloat16 train steps and forwards (no XLA, no masks)",
    )


def selected_zoo(setting, models):
    """The `(key, recipe, overrides)` entries to measure: the setting's, or the named ones."""
    if models is None:
        return SETTINGS[setting]["zoo"]
    if setting != "full":
        raise ValueError("--models selects among the full run's models; drop --tiny / --quick.")
    keys = [key.strip() for key in models.split(",") if key.strip()]
    known = {entry[0]: entry for entry in ZOO}
    unknown = [key for key in keys if key not in known]
    if unknown or not keys:
        raise ValueError(f"--models {models!r}: give keys among {', '.join(known)}.")
    return tuple(known[key] for key in keys)


def _isolated(key, bfloat16_only):
    """One model's full-setting result from a child process, or an error entry."""
    command = [sys.executable, os.path.abspath(__file__), "--models", key]
    if bfloat16_only:
        command.append("--bfloat16-only")
    start = time.perf_counter()
    result = child_result(command, key)
    log(f"{key}: done in {time.perf_counter() - start:.0f} s")
    return result


def main():
    setting, args = parse_setting(__doc__.split("\n\n")[0], _add_arguments)
    config = SETTINGS[setting]
    if setting == "full" and args.models is None:
        results = [_isolated(key, args.bfloat16_only) for key, _, _ in ZOO]
    else:
        results = [
            measure(*entry, config, bfloat16_only=args.bfloat16_only)
            for entry in selected_zoo(setting, args.models)
        ]
    emit(
        {
            "benchmark": "precision_cost",
            "setting": setting,
            "machine": machine_description(),
            "results": results,
        }
    )


if __name__ == "__main__":
    sys.exit(main())
