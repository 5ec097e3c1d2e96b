"""Where a generator's forward time goes: each layer timed alone, with its GFLOP/s.

Walks the generator's functional graph (nested models included), feeds each
layer the inputs it gets in the full model on a batch of the recipe's own
masks, and times the layer as a compiled `tf.function` (median of `runs`
after a warm-up), interleaved with a float32 matmul for the same-process
GFLOP/s reference. The layers whose share of the time is much larger than
their share of the FLOPs are the ones that keep a model under the matmul's
efficiency (see benchmarks/README.md).

    python benchmarks/layer_profile.py [--tiny | --quick] [--recipe NAME] [--batch N]

Defaults: `--quick` and the full run profile `context_encoder/center_128` at
batch 16 (1 and 3 runs); `--tiny` `context_encoder/builtin_64` at batch 2.
Prints one JSON object: `{"benchmark": "layer_profile", "setting",
"recipe", "batch", "matmul_gflops_per_s", "total_ms", "layers": [{"layer",
"type", "output_shape", "ms", "share", "gflops", "gflops_per_s"}, ...]}`,
the layers sorted by time, the `top` slowest only.
"""

from benchlib import (  # noqa: E402
    emit,
    example_batch,
    interleaved_medians,
    matmul_reference,
    parse_setting,
)
from flop_count import FLOP_RULES  # noqa: E402

SETTINGS = {
    "tiny": {"recipe": "context_encoder/builtin_64", "batch": 2, "runs": 1, "matmul": 256},
    "quick": {"recipe": "context_encoder/center_128", "batch": 16, "runs": 1, "matmul": 2048},
    "full": {"recipe": "context_encoder/center_128", "batch": 16, "runs": 3, "matmul": 2048},
}


def _add_arguments(parser):
    parser.add_argument("--recipe", help="recipe to profile (default: the setting's)")
    parser.add_argument("--batch", type=int, help="batch size (default: the setting's)")
    parser.add_argument("--top", type=int, default=12, help="slowest layers to list")


def layer_calls(model, inputs):
    """`(layer, node, args)` for every layer call of a functional model, nested models walked."""
    import keras

    calls = []
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            tap = keras.Model(model.inputs, node.input_tensors)
            args = tap(inputs, training=False)
            layer = node.operation
            if isinstance(layer, keras.Model) and hasattr(layer, "_nodes_by_depth"):
                calls.extend(layer_calls(layer, args))
            else:
                calls.append((layer, node, args))
    return calls


def main():
    setting, args = parse_setting(__doc__.split("\n\n")[0], _add_arguments)
    config = SETTINGS[setting]
    import keras
    import tensorflow as tf

    from keras_inpaint.training.recipes import build_inpainter, load_recipe

    recipe_name = args.recipe or config["recipe"]
    batch = args.batch or config["batch"]
    keras.utils.set_random_seed(0)
    recipe = load_recipe(recipe_name)
    generator = build_inpainter(recipe, compile=False).generator
    (masked_image, mask), _ = example_batch(recipe, batch, recipe["image_size"])
    calls = layer_calls(generator, [masked_image, mask])
    functions = {"matmul": matmul_reference(config["matmul"])[0]}
    details = {}
    for index, (layer, node, layer_args) in enumerate(calls):
        name = f"{index:03d}:{layer.name}"
        functions[name] = tf.function(
            lambda layer=layer, layer_args=layer_args: layer(layer_args, training=False)
        )
        rule = FLOP_RULES.get(type(layer).__name__)
        flops = rule(layer, node) * batch if rule else 0
        shape = [tuple(tensor.shape) for tensor in node.output_tensors][0]
        details[name] = (layer, shape, flops)
    seconds = interleaved_medians(functions, config["runs"])
    matmul_gflops = 2.0 * config["matmul"] ** 3 / 1e9 / seconds.pop("matmul")
    total = sum(seconds.values())
    layers = []
    for name, value in sorted(seconds.items(), key=lambda item: -item[1])[: args.top]:
        layer, shape, flops = details[name]
        layers.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "output_shape": list(shape),
                "ms": round(1000 * value, 2),
                "share": round(value / total, 3),
                "gflops": round(flops / 1e9, 3),
                "gflops_per_s": round(flops / 1e9 / value, 1),
            }
        )
    emit(
        {
            "benchmark": "layer_profile",
            "setting": setting,
            "recipe": recipe_name,
            "batch": batch,
            "matmul_gflops_per_s": round(matmul_gflops, 1),
            "total_ms": round(1000 * total, 1),
            "layers": layers,
        }
    )


if __name__ == "__main__":
    main()
