"""Cost of PEPSI's contextual attention module (CAM) in the generator's forward pass on a CPU.

Times, at 256x256 (the paper's size, 32x32x256 features at the CAM) and batch 1,
the inference forward of the full `PEPSIGenerator` (encoder -> CAM -> decoder)
and of the same network without the CAM (encoder -> decoder: the coarse
path), and the CAM alone on the encoder's features, as compiled
`tf.function`s: the median of `--runs` runs after a warm-up run, the three
alternating so that a change of load on a shared machine hits them alike;
for each `ContextualAttention` implementation. Prints one JSON object:
`cam_over_rest` = (with CAM - without CAM) / without CAM, `cam_only_over_rest`
= CAM alone / without CAM.

    python benchmarks/cam_cost.py [--size 256] [--batch 1] [--runs 15]
"""

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_inpaint.models.pepsi import PEPSIGenerator  # noqa: E402


def interleaved_medians(functions, runs):
    """Median seconds of each function; runs alternate so load changes hit all alike."""
    for function in functions.values():
        function().numpy()  # trace and warm up
    times = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            function().numpy()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def measure(implementation, size, batch, runs):
    keras.utils.set_random_seed(0)
    generator = PEPSIGenerator(image_size=size, attention_implementation=implementation)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    result = {
        "benchmark": "pepsi_cam_cost",
        "image_size": args.size,
        "batch": args.batch,
        "runs": args.runs,
        "device": "CPU" if not tf.config.list_physical_devices("GPU") else "GPU",
        "cpu_threads": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    for implementation in ("patches", "fused"):
        result[implementation] = measure(implementation, args.size, args.batch, args.runs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
