"""Train-step time per model: float32 vs mixed_bfloat16 vs XLA; masks in the step vs the pipeline.

For each recipe, compiled `train_step`s on one batch of the recipe's own
masks, interleaved so that a change of load hits them alike:

- `float32`, `mixed_bfloat16` (networks built under that policy) and
  `float32` with `jit_compile=True` (the step as `fit` compiles it with XLA);
- masks in the step (`Inpainter(step_masks=...)`, the batch of images alone,
  float32, no XLA) against masks from the pipeline, whose cost is the step on
  a batch that carries its masks plus the mask function's own time for that
  batch as a `tf.function` (the host work `build_dataset` does per batch,
  which prefetching may hide behind the step).

    python benchmarks/precision_cost.py [--tiny | --quick]

Settings: `--tiny` the 64x64 built-in Context Encoder, batch 2, 2 runs
(seconds, for the tests); `--quick` the 128 px Context Encoder and PEPSI at
256, at most 4 x 128 x 128 pixels a batch, 3 runs; the full run: the five
recipes of `ZOO`, at most 8 x 128 x 128 pixels, 5 runs. Standalone (not run
by `run_all.py`).

Prints one JSON object: `{"benchmark": "precision_cost", "setting", "machine",
"results": [{"model", "recipe", "image_size", "batch", "float32_s",
"mixed_bfloat16_s", "xla_s", "bfloat16_speedup", "xla_speedup",
"masks_step_s", "masks_pipeline_s", "masks_step_over_pipeline"}]}`.
"""

import sys

from benchlib import (  # noqa: E402
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
    ("pconv_unet", "pconv_unet/places2_512_stage1", {"vgg_weights": None}),
)
SETTINGS = {
    "tiny": {
        "zoo": (("context_encoder_builtin_64", "context_encoder/builtin_64", {}),),
        "runs": 2,
        "pixels": 2 * 64 * 64,
    },
    "quick": {"zoo": (ZOO[0], ZOO[3]), "runs": 3, "pixels": 4 * 128 * 128},
    "full": {"zoo": ZOO, "runs": 5, "pixels": 8 * 128 * 128},
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


def _steps(recipe, batch):
    """`{name: callable}`: one compiled train step per variant, and the pipeline's mask draw."""
    import tensorflow as tf

    from keras_inpaint.data import masks
    from keras_inpaint.data.pipeline import load_data_spec

    mask_spec = load_data_spec(recipe["data"])["masks"]
    (_, mask), image = batch
    float32 = _model(recipe)
    bfloat16 = _model(recipe, "mixed_bfloat16")
    xla = _model(recipe, jit_compile=True)
    in_step = _model(recipe, step_masks=mask_spec)
    mask_fn = masks.make_mask_fn(mask_spec)
    size = image.shape[1]
    return {
        "float32": tf.function(lambda: float32.train_step(batch)),
        "mixed_bfloat16": tf.function(lambda: bfloat16.train_step(batch)),
        # What `fit` runs with `jit_compile=True`.
        "xla": tf.function(lambda: xla.train_step(batch), jit_compile=True),
        "masks_step": tf.function(lambda: in_step.train_step(image)),
        "masks_only": tf.function(
            lambda: mask_fn(mask.shape[0], size, size, tf.constant([1, 3], tf.int64))
        ),
    }


def measure(key, recipe_name, overrides, config):
    recipe = _recipe(recipe_name, overrides)
    size = recipe["image_size"]
    batch_size = max(1, min(recipe["training"]["batch_size"], config["pixels"] // size**2))
    batch = example_batch(recipe, batch_size, size, seed=1)
    seconds = interleaved_medians(_steps(recipe, batch), config["runs"], warmup=1)
    pipeline_s = seconds["float32"] + seconds["masks_only"]
    log(f"{key}: " + ", ".join(f"{name} {value:.3f} s" for name, value in seconds.items()))
    return {
        "model": key,
        "recipe": recipe_name,
        "image_size": size,
        "batch": batch_size,
        "float32_s": round(seconds["float32"], 4),
        "mixed_bfloat16_s": round(seconds["mixed_bfloat16"], 4),
        "xla_s": round(seconds["xla"], 4),
        "bfloat16_speedup": round(seconds["float32"] / seconds["mixed_bfloat16"], 3),
        "xla_speedup": round(seconds["float32"] / seconds["xla"], 3),
        "masks_step_s": round(seconds["masks_step"], 4),
        "masks_pipeline_s": round(pipeline_s, 4),
        "masks_step_over_pipeline": round(seconds["masks_step"] / pipeline_s, 3),
    }


def main():
    setting, _ = parse_setting(__doc__.split("\n\n")[0])
    config = SETTINGS[setting]
    results = [measure(*entry, config) for entry in config["zoo"]]
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
