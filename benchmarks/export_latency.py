"""Latency of an exported SavedModel's `serving_default` against the same computation in process.

For each recipe: build the (untrained) model, export it with
`keras_inpaint.export.export_saved_model` to a temporary folder, load it with
`tf.saved_model.load`, and time on the same uint8 image and mask:

- `exported`: the loaded `signatures["serving_default"]`;
- `in_process`: `tf.function(serving_function(model))` with the export's input
  signature, the computation the export traced;
- `in_process_xla`: the same with `jit_compile=True` (does XLA pay off for
  serving?).

The three alternate (`benchlib.interleaved_medians`); `ratio` = exported /
in_process, the target being <= 1.1.

    python benchmarks/export_latency.py [--tiny | --quick]

Prints one JSON object: `{"benchmark": "export_latency", "setting", "runs",
"results": [{"model", "recipe", "image_size", "batch", "exported_ms",
"in_process_ms", "in_process_xla_ms", "ratio", "xla_ratio"}]}`.
"""

import shutil
import tempfile

from benchlib import emit, example_batch, interleaved_medians, log, parse_setting  # noqa: E402

SETTINGS = {
    "tiny": {
        "zoo": (("context_encoder_builtin_64", "context_encoder/builtin_64"),),
        "batches": (1,),
        "runs": 3,
    },
    "quick": {
        "zoo": (("context_encoder_center", "context_encoder/center_128"),),
        "batches": (1,),
        "runs": 7,
    },
    "full": {
        "zoo": (
            ("context_encoder_center", "context_encoder/center_128"),
            ("context_encoder_alexnet", "context_encoder/alexnet_region_128"),
            ("glcic", "glcic/places2_256"),
            ("pepsi", "pepsi/celeba_hq_256"),
            ("pconv_unet", "pconv_unet/places2_512_stage1"),
        ),
        "batches": (1, 4),
        "runs": 15,
    },
}


def measure(key, recipe_name, batches, runs, folder):
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_inpaint import images
    from keras_inpaint.export import export_saved_model, serving_function
    from keras_inpaint.export.signatures import image_input_signature
    from keras_inpaint.export.size_rule import SizeRule
    from keras_inpaint.training.recipes import build_inpainter, load_recipe

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    recipe = load_recipe(recipe_name)
    if recipe["inpainter"]["class"] == "PConvInpainter":
        # Serving does not use the loss network; skip loading its weights.
        recipe["inpainter"]["config"]["vgg_weights"] = None
    model = build_inpainter(recipe, compile=False)
    export_dir = export_saved_model(model, folder, name=key.replace("/", "_"))
    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    input_signature = image_input_signature(SizeRule.for_generator(model.generator))
    serve = serving_function(model)
    in_process = tf.function(serve, input_signature=input_signature)
    in_process_xla = tf.function(serve, input_signature=input_signature, jit_compile=True)
    size = recipe["image_size"]
    results = []
    for batch in batches:
        (_, mask), image = example_batch(recipe, batch, size)
        image = tf.constant(images.model_to_uint8(image).numpy())
        mask = tf.constant((mask.numpy() * 255).astype(np.uint8))
        functions = {
            "exported": lambda image=image, mask=mask: signature(image=image, mask=mask),
            "in_process": lambda image=image, mask=mask: in_process(image, mask),
        }
        xla_note = None
        try:
            in_process_xla(image, mask)["inpainted"].numpy()
            functions["in_process_xla"] = lambda image=image, mask=mask: in_process_xla(image, mask)
        except Exception as error:  # XLA refuses some ops; the reason is the figure
            xla_note = f"unsupported: {type(error).__name__}: {str(error).splitlines()[0][:200]}"
        exported_out = functions["exported"]()["inpainted"].numpy()
        in_process_out = functions["in_process"]()["inpainted"].numpy()
        seconds = interleaved_medians(functions, runs)
        result = {
            "model": key,
            "recipe": recipe_name,
            "image_size": size,
            "batch": batch,
            "exported_ms": round(1000 * seconds["exported"], 2),
            "in_process_ms": round(1000 * seconds["in_process"], 2),
            "ratio": round(seconds["exported"] / seconds["in_process"], 3),
            # Same inputs, same computation: the outputs must agree (uint8 rounding aside).
            "max_abs_difference": int(
                np.abs(exported_out.astype(int) - in_process_out.astype(int)).max()
            ),
        }
        if xla_note is None:
            result["in_process_xla_ms"] = round(1000 * seconds["in_process_xla"], 2)
            result["xla_ratio"] = round(seconds["in_process_xla"] / seconds["in_process"], 3)
        else:
            result["in_process_xla_ms"] = xla_note
        results.append(result)
        log(f"export_latency: {key} batch {batch}: ratio {result['ratio']}")
    return results


def main():
    setting, _ = parse_setting(__doc__.split("\n\n")[0])
    config = SETTINGS[setting]
    folder = tempfile.mkdtemp(prefix="keras_inpaint_export_")
    results = []
    try:
        for key, recipe_name in config["zoo"]:
            try:
                results.extend(measure(key, recipe_name, config["batches"], config["runs"], folder))
            except Exception as error:  # one model's failure is recorded, the others still run
                results.append({"model": key, "recipe": recipe_name, "error": repr(error)[:500]})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    worst = max((entry["ratio"] for entry in results if "ratio" in entry), default=None)
    emit(
        {
            "benchmark": "export_latency",
            "setting": setting,
            "runs": config["runs"],
            "worst_ratio": worst,
            "results": results,
        }
    )


if __name__ == "__main__":
    main()
