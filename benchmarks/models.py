"""Every zoo generator at its standard size: parameters, GFLOPs, latency, throughput, train step.

For each representative recipe (`ZOO`): the generator's parameters; its
GFLOPs per image counted from the layers (`flop_count.count_flops`,
cross-checked by TensorFlow's graph profiler); forward latency at batch 1
and throughput at `throughput_batch` (16) as `tf.function`s, with and without
XLA (`jit_compile=True`); the achieved GFLOP/s at batch 16 divided by the
GFLOP/s of a large float32 matmul timed in the same process, interleaved
with the model's runs (`efficiency`); and the time of one compiled
`train_step` (generator + discriminator) per batch and per image.

    python benchmarks/models.py [--tiny | --quick] [--only KEY,KEY]

Settings: `--tiny` one small recipe at 64x64, XLA at the throughput batch
only (seconds, for the tests); `--quick` two generators at their standard
sizes (`QUICK_ZOO`: the centre Context Encoder at 128 and PEPSI at 256; the
other six only in the full run) with one run, throughput
at batch 4, XLA at that batch only, and the train step on at most
4 x 128 x 128 pixels (4 images at 128, 1 at 256 and at 512; the recipe's
own batch is in the JSON); the full run: every generator of `ZOO`, 5 runs,
batch 16, XLA at both batches and each recipe's own training batch up to
16 x 256 x 256 pixels, each model in its own process. Every function is
called once before the timed runs (its trace, XLA compile and warm-up);
`phase_seconds` says where each model's time went.

Prints one JSON object: `{"benchmark": "models", "setting", "machine",
"matmul_size", "throughput_batch", "results": [...]}`, one result per model
(keys in benchmarks/README.md).
"""

import json
import os
import statistics
import sys
import time

from benchlib import (  # noqa: E402
    child_result,
    emit,
    example_batch,
    finish,
    interleaved_medians,
    interleaved_times,
    log,
    machine_description,
    matmul_reference,
    parse_setting,
)
from flop_count import count_flops, profiler_flops  # noqa: E402

# key, recipe, inpainter config overrides for the train step.
ZOO = (
    ("context_encoder_center", "context_encoder/center_128", {}),
    ("context_encoder_full", "patch_gan/monet_context_encoder_128", {}),
    ("context_encoder_alexnet", "context_encoder/alexnet_region_128", {}),
    # tc = td = 0: the joint phase, where both networks train (the costliest step).
    ("glcic", "glcic/places2_256", {"tc": 0, "td": 0}),
    ("pepsi", "pepsi/celeba_hq_256", {}),
    ("diet_pepsi", "pepsi/diet_celeba_hq_256", {}),
    ("pepsi_depthwise", "pepsi/seed_depthwise_celeba_hq_256", {}),
    # Random VGG16 weights: the same cost as ImageNet's, and no download.
    ("pconv_unet", "pconv_unet/places2_512_stage1", {"vgg_weights": None}),
)
TINY_ZOO = (("context_encoder_builtin_64", "context_encoder/builtin_64", {}),)
# The quickest of the 128 px and of the 256 px families.
QUICK_KEYS = ("context_encoder_center", "pepsi")
QUICK_ZOO = tuple(entry for entry in ZOO if entry[0] in QUICK_KEYS)

SETTINGS = {
    "tiny": {
        "zoo": TINY_ZOO,
        "image_size": None,
        "throughput_batch": 2,
        "runs": 1,
        "train_runs": 1,
        "train_pixels": 2 * 64 * 64,
        "matmul_size": 256,
        "xla": "throughput",
    },
    "quick": {
        "zoo": QUICK_ZOO,
        "image_size": None,
        "throughput_batch": 4,
        "runs": 1,
        "train_runs": 1,
        "train_pixels": 4 * 128 * 128,
        "matmul_size": 2048,
        "xla": "throughput",
    },
    "full": {
        "zoo": ZOO,
        "image_size": None,
        "throughput_batch": 16,
        "runs": 5,
        "train_runs": 3,
        # The recipes' own batches up to 16 images at 256 (GLCIC's 96 would need
        # more memory than this machine has): 64 at 128, 16 at 256, 4 at 512.
        "train_pixels": 16 * 256 * 256,
        "matmul_size": 2048,
        "xla": True,
    },
}


def _add_arguments(parser):
    parser.add_argument("--only", default="", help="comma-separated model keys to run")
    parser.add_argument(
        "--isolate",
        action="store_true",
        help="each model in its own process (the full run's default), so running out of "
        "memory loses that model's figures only",
    )


def _isolated(setting, key):
    """One model's result from a child process, or an error entry."""
    command = [sys.executable, os.path.abspath(__file__), "--only", key]
    if setting != "full":
        command.append(f"--{setting}")
    return child_result(command, key)


def _resized_recipe(recipe, size):
    """A copy of a recipe at another image size (the tiny setting)."""
    import copy

    recipe = copy.deepcopy(recipe)
    recipe["image_size"] = size
    for role in ("generator", "discriminator"):
        config = (recipe.get(role) or {}).get("config", {})
        if "image_size" in config:
            config["image_size"] = size
    return recipe


def _forward_functions(generator, batches, xla):
    import tensorflow as tf

    functions = {}
    for label, ((masked_image, mask), _) in batches.items():

        def forward(masked_image=masked_image, mask=mask):
            return generator([masked_image, mask], training=False)

        functions[f"{label}"] = tf.function(forward)
        if xla is True or (xla == "throughput" and label == "bN"):
            functions[f"xla_{label}"] = tf.function(forward, jit_compile=True)
    return functions


def _warm_up(functions):
    """Call each function once (trace, XLA compile, caches); drop the XLA ones that fail.

    Returns `(first-call seconds by name, {name: reason} for the dropped ones)`.
    """
    first_call_s, failures = {}, {}
    for name in list(functions):
        start = time.perf_counter()
        try:
            finish(functions[name]())
        except Exception as error:  # XLA refuses some ops; the reason is the figure
            if not name.startswith("xla_"):
                raise
            reason = str(error).strip().splitlines()[0][:200]
            failures[name] = f"unsupported: {type(error).__name__}: {reason}"
            del functions[name]
        first_call_s[name] = time.perf_counter() - start
    return first_call_s, failures


def _describe(key, recipe_name, model, recipe):
    """The model's parameters and GFLOPs (counted, and from TensorFlow's profiler)."""
    import tensorflow as tf

    from keras_inpaint.zoo import trainable_params

    generator, size = model.generator, recipe["image_size"]
    counted = count_flops(generator)
    specs = [tf.TensorSpec((1, size, size, 3)), tf.TensorSpec((1, size, size, 1))]
    profiled, _ = profiler_flops(lambda a, b: generator([a, b], training=False), specs)
    return {
        "model": key,
        "recipe": recipe_name,
        "generator": type(generator).__name__,
        "discriminator": type(model.discriminator).__name__ if model.discriminator else None,
        "image_size": size,
        "params": trainable_params(generator),
        "discriminator_params": trainable_params(model.discriminator) if model.discriminator else 0,
        "gflops_per_image": round(counted["flops"] / 1e9, 4),
        "gflops_profiler": round(profiled / 1e9, 4),
        "gflops_by_layer_type": {
            name: round(value / 1e9, 4) for name, value in counted["by_layer_type"].items()
        },
        "uncounted_layers": counted["uncounted"],
    }


def _forward(generator, recipe, config, matmul, gflops):
    """Batch-1 latency and batch-N throughput, plain and XLA, interleaved with the matmul."""
    size, big = recipe["image_size"], config["throughput_batch"]
    batches = {"b1": example_batch(recipe, 1, size), "bN": example_batch(recipe, big, size)}
    functions = _forward_functions(generator, batches, config["xla"])
    first_call_s, failures = _warm_up(functions)
    # The matmul runs before and after the model's calls in every round; each
    # round's efficiency uses its own matmul rate, the median over rounds is kept.
    times = interleaved_times(
        {"matmul": matmul[0], **functions, "matmul_after": matmul[0]}, config["runs"], warmup=0
    )
    seconds = {name: statistics.median(values) for name, values in times.items()}
    matmul_rates = [
        2 * matmul[1] / 1e9 / (before + after)
        for before, after in zip(times["matmul"], times["matmul_after"], strict=True)
    ]
    result = {"matmul_gflops_per_s": round(statistics.median(matmul_rates), 1)}
    for mode, prefix in (("plain", ""), ("xla", "xla_")):
        if f"{prefix}bN" not in seconds:
            result[f"forward_{mode}"] = failures.get(
                f"{prefix}bN", "unsupported: not measured in this setting"
            )
            continue
        throughput = big / seconds[f"{prefix}bN"]
        efficiency = statistics.median(
            gflops * big / model_s / rate
            for model_s, rate in zip(times[f"{prefix}bN"], matmul_rates, strict=True)
        )
        result[f"forward_{mode}"] = {
            "batch1_latency_ms": round(1000 * seconds[f"{prefix}b1"], 2)
            if f"{prefix}b1" in seconds
            else None,
            "throughput_images_per_s": round(throughput, 3),
            "achieved_gflops_per_s": round(gflops * throughput, 2),
            "efficiency": round(efficiency, 3),
        }
    if config["xla"]:
        xla_first = [value for name, value in first_call_s.items() if name.startswith("xla_")]
        result["xla_compile_and_first_run_s"] = round(sum(xla_first), 1)
    efficiencies = [
        result[f"forward_{mode}"]["efficiency"]
        for mode in ("plain", "xla")
        if isinstance(result[f"forward_{mode}"], dict)
    ]
    result["best_efficiency"] = max(efficiencies)
    if isinstance(result["forward_xla"], dict):
        result["xla_speedup"] = round(
            result["forward_xla"]["throughput_images_per_s"]
            / result["forward_plain"]["throughput_images_per_s"],
            3,
        )
    return result


def measure_model(key, recipe_name, overrides, config, matmul):
    import keras

    from keras_inpaint.training.recipes import build_inpainter, load_recipe

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    recipe = load_recipe(recipe_name)
    if config["image_size"]:
        recipe = _resized_recipe(recipe, config["image_size"])
    recipe["inpainter"].setdefault("config", {}).update(overrides)
    phases, start = {}, time.perf_counter()
    model = build_inpainter(recipe)
    phases["build"], start = time.perf_counter() - start, time.perf_counter()
    result = _describe(key, recipe_name, model, recipe)
    phases["flops"], start = time.perf_counter() - start, time.perf_counter()
    result.update(_forward(model.generator, recipe, config, matmul, result["gflops_per_image"]))
    phases["forward"], start = time.perf_counter() - start, time.perf_counter()
    result["train_step"] = measure_train_step(model, recipe, config, matmul)
    phases["train_step"] = time.perf_counter() - start
    result["phase_seconds"] = {name: round(value, 1) for name, value in phases.items()}
    return result


def measure_train_step(model, recipe, config, matmul):
    """One compiled `train_step` (G + D) on one batch, interleaved with the matmul."""
    import tensorflow as tf

    recipe_batch = recipe["training"]["batch_size"]
    pixels = config["train_pixels"]
    size = recipe["image_size"]
    # A pixel budget per step keeps the short settings' steps alike in cost.
    batch_size = recipe_batch if pixels is None else max(1, min(recipe_batch, pixels // size**2))
    batch = example_batch(recipe, batch_size, recipe["image_size"], seed=1)
    step = tf.function(lambda: model.train_step(batch))
    start = time.perf_counter()
    step()
    first_s = time.perf_counter() - start
    seconds = interleaved_medians({"matmul": matmul[0], "step": step}, config["train_runs"], 0)
    return {
        "batch": batch_size,
        "recipe_batch": recipe_batch,
        "seconds_per_batch": round(seconds["step"], 4),
        "seconds_per_image": round(seconds["step"] / batch_size, 5),
        "images_per_s": round(batch_size / seconds["step"], 3),
        "seconds_per_recipe_batch_estimate": round(seconds["step"] / batch_size * recipe_batch, 3),
        "trace_and_first_step_s": round(first_s, 1),
        "matmul_gflops_per_s": round(matmul[1] / 1e9 / seconds["matmul"], 1),
        "networks": "generator + discriminator" if model.discriminator else "generator",
    }


def main():
    setting, args = parse_setting(__doc__.split("\n\n")[0], _add_arguments)
    config = SETTINGS[setting]
    only = {key for key in args.only.split(",") if key}
    matmul = matmul_reference(config["matmul_size"])
    results = []
    for key, recipe_name, overrides in config["zoo"]:
        if only and key not in only:
            continue
        start = time.perf_counter()
        if (args.isolate or setting == "full") and not only:
            results.append({"recipe": recipe_name, **_isolated(setting, key)})
            log(f"models: {key} done in {time.perf_counter() - start:.1f} s")
            continue
        try:
            results.append(measure_model(key, recipe_name, overrides, config, matmul))
            # Also on stderr: a run that dies later (memory) still leaves the figures.
            log(json.dumps(results[-1]))
        except Exception as error:  # one model's failure is recorded, the others still run
            results.append({"model": key, "recipe": recipe_name, "error": repr(error)[:500]})
        log(f"models: {key} done in {time.perf_counter() - start:.1f} s")
    emit(
        {
            "benchmark": "models",
            "setting": setting,
            "machine": machine_description(),
            "matmul_size": config["matmul_size"],
            "throughput_batch": config["throughput_batch"],
            "results": results,
        }
    )


if __name__ == "__main__":
    main()
