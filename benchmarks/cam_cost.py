"""Cost of PEPSI's contextual attention module (CAM) in the generator's forward pass on a CPU.

Times, at 256x256 (the paper's size, 32x32x256 features at the CAM) and batch 1,
the inference forward of the full `PEPSIGenerator` (encoder -> CAM -> decoder)
and of the same network without the CAM (encoder -> decoder: the coarse
path), and the CAM alone on the encoder's features, as compiled
`tf.function`s: the median of `--runs` runs after a warm-up run, the three
alternating so that a change of load on a shared machine hits them alike;
for each `ContextualAttention` implementation. Prints one JSON object:
`cam_over_rest` = (with CAM - without CAM) / without CAM, `cam_only_over_rest`
= CAM alone / without CAM. The target is `fused.cam_over_rest` <= 0.5 at
512x512 and batch 16 (64x64x256 features at the CAM, N = 4096 positions).

    python benchmarks/cam_cost.py [--tiny | --quick] [--size 256] [--batch 1] [--runs N]
        [--implementation fused]

Settings: `--tiny` 64x64 (w = 8), 1 run; `--quick` 256x256, 5 runs; the full
run 256x256, 15 runs. `--size`, `--batch` and `--runs` override them;
`--implementation` times one implementation only (default: both).
"""

from benchlib import emit, interleaved_medians, machine_description, parse_setting  # noqa: E402

IMPLEMENTATIONS = ("patches", "fused")
SETTINGS = {
    "tiny": {"size": 64, "filters": 8, "runs": 1},
    "quick": {"size": 256, "filters": 32, "runs": 5},
    "full": {"size": 256, "filters": 32, "runs": 15},
}


def measure(implementation, size, batch, runs, filters=32):
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_inpaint.models.pepsi import PEPSIGenerator

    keras.utils.set_random_seed(0)
    generator = PEPSIGenerator(
        image_size=size, filters=filters, attention_implementation=implementation
    )
    coarse_path = keras.Model(generator.inputs, generator.training_model.outputs[0])
    rng = np.random.default_rng(0)
    mask = np.zeros((batch, size, size, 1), "float32")
    mask[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1.0
    image = rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32") * (1 - mask)
    image, mask = tf.constant(image), tf.constant(mask)
    features = generator.encoder(tf.concat([image, mask], axis=-1))
    seconds = interleaved_medians(
        {
            "with_cam": tf.function(lambda: generator([image, mask], training=False)),
            "without_cam": tf.function(lambda: coarse_path([image, mask], training=False)),
            "cam_only": tf.function(lambda: generator.cam([features, mask], training=False)),
        },
        runs,
    )
    rest = seconds["without_cam"]
    return {
        "forward_with_cam_s": round(seconds["with_cam"], 4),
        "forward_without_cam_s": round(rest, 4),
        "cam_only_s": round(seconds["cam_only"], 4),
        "cam_over_rest": round((seconds["with_cam"] - rest) / rest, 3),
        "cam_only_over_rest": round(seconds["cam_only"] / rest, 3),
    }


def _add_arguments(parser):
    parser.add_argument("--size", type=int, help="image side (default: the setting's)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, help="timed runs (default: the setting's)")
    parser.add_argument(
        "--implementation",
        choices=IMPLEMENTATIONS,
        action="append",
        help="time only this implementation (repeatable; default: both)",
    )


def main():
    setting, args = parse_setting(__doc__.split("\n\n")[0], _add_arguments)
    config = SETTINGS[setting]
    size = args.size or config["size"]
    runs = args.runs or config["runs"]
    filters = config["filters"] if args.size is None else 32
    result = {
        "benchmark": "cam_cost",
        "setting": setting,
        "image_size": size,
        "filters": filters,
        "batch": args.batch,
        "runs": runs,
        "machine": machine_description(),
    }
    for implementation in args.implementation or IMPLEMENTATIONS:
        result[implementation] = measure(implementation, size, args.batch, runs, filters)
    emit(result)


if __name__ == "__main__":
    main()
