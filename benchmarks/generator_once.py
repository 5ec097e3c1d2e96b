"""The GAN step with the generator run once vs twice, per GAN wrapper of the zoo.

`Inpainter.train_step` shares the generator's forward pass between the
discriminator's step and its own where both train at every step
(`shares_generator_pass`); setting that attribute False on the instance gives
the two-pass step (the discriminator's fakes from a second pass). Both
compiled `train_step`s run on the same batch, interleaved, and the ratio of
their medians is the gain. GLCIC's phase 3 keeps two passes by design (its
fakes are inference-mode outputs), so its ratio is the noise floor.

    python benchmarks/generator_once.py [--tiny | --quick]

Settings: `--tiny` the 64x64 built-in Context Encoder recipe (PatchGAN critic;
seconds, for a smoke run); `--quick` the 128x128 Context Encoder recipe, 2
runs, at most 4 x 128 x 128 pixels a batch; the full
run: every GAN recipe at its standard size, 7 runs, at most 8 x 128 x 128
pixels.

Prints one JSON object: `{"benchmark": "generator_once", "setting", "machine",
"results": [{"model", "recipe", "image_size", "batch", "two_pass_s",
"one_pass_s", "speedup"}]}`.
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

# key, recipe, inpainter config overrides.
GANS = (
    ("context_encoder_center", "context_encoder/center_128", {}),
    ("patch_gan", "patch_gan/monet_context_encoder_128", {}),
    # tc = td = 0: phase 3, where both networks train.
    ("glcic_phase3", "glcic/places2_256", {"tc": 0, "td": 0}),
    ("pepsi", "pepsi/celeba_hq_256", {}),
)
TINY_GANS = (("context_encoder_builtin_64", "context_encoder/builtin_64", {}),)
SETTINGS = {
    "tiny": {"gans": TINY_GANS, "runs": 2, "pixels": 2 * 64 * 64},
    "quick": {"gans": GANS[:1], "runs": 2, "pixels": 4 * 128 * 128},
    "full": {"gans": GANS, "runs": 7, "pixels": 8 * 128 * 128},
}


def measure(key, recipe_name, overrides, config):
    """Median seconds of the one-pass and two-pass train steps of one recipe."""
    import tensorflow as tf

    from keras_inpaint.training.recipes import build_inpainter, load_recipe

    recipe = load_recipe(recipe_name)
    recipe["inpainter"] = dict(recipe["inpainter"])
    recipe["inpainter"]["config"] = {**recipe["inpainter"].get("config", {}), **overrides}
    size = recipe["image_size"]
    batch_size = max(1, min(recipe["training"]["batch_size"], config["pixels"] // size**2))
    batch = example_batch(recipe, batch_size, size, seed=1)
    one_pass = build_inpainter(recipe)
    two_pass = build_inpainter(recipe)
    two_pass.shares_generator_pass = False
    steps = {
        "one_pass": tf.function(lambda: one_pass.train_step(batch)),
        "two_pass": tf.function(lambda: two_pass.train_step(batch)),
    }
    seconds = interleaved_medians(steps, config["runs"], warmup=1)
    log(f"{key}: one pass {seconds['one_pass']:.3f} s, two passes {seconds['two_pass']:.3f} s")
    return {
        "model": key,
        "recipe": recipe_name,
        "image_size": size,
        "batch": batch_size,
        "two_pass_s": round(seconds["two_pass"], 4),
        "one_pass_s": round(seconds["one_pass"], 4),
        "speedup": round(seconds["two_pass"] / seconds["one_pass"], 3),
    }


def main():
    setting, _ = parse_setting(__doc__.split("\n\n")[0])
    config = SETTINGS[setting]
    results = [measure(*gan, config) for gan in config["gans"]]
    emit(
        {
            "benchmark": "generator_once",
            "setting": setting,
            "machine": machine_description(),
            "results": results,
        }
    )


if __name__ == "__main__":
    sys.exit(main())
