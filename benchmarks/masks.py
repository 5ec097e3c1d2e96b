"""Masks per second of our TensorFlow generators against OpenCV references.

For each random kind (`random_boxes`, `random_region`, `irregular_strokes`,
`free_form`) and image size, times one batch of masks from our generator
(inside a `tf.function`, traced and warmed up first, a new stateless seed per
call; the masks stay a tensor, as a model takes them) and the same number of
masks from the matching OpenCV reference in `benchmarks/reference_masks.py`
(a Python loop, one mask per call, in this process; NumPy uint8 masks). Runs
alternate between the two so that a change of load on a shared machine hits
both alike; the figure is the median over the runs. The hole-ratio
distribution of every mask drawn is reported for both, so that the comparison
is like for like, and for the shape kinds also our cost with the exact
`hole_ratio=(0.2, 0.3)` option.

    python benchmarks/masks.py [--tiny | --quick]

`--tiny`: 32x32, batch 4, one run (seconds, for tests); `--quick`: 256 and
512 (the sizes of the OpenCV targets), batch 16, 3 runs, without the
exact-ratio option; no flag: 128, 256 and 512, batch 64, 15 runs (128 is the
Context Encoders' size, 256 and 512 the others'). Prints one
JSON object as its last line:

    {"benchmark": "masks", "setting": "full", "batch": 64, "runs": 15,
     "results": [{"kind": "irregular_strokes", "size": 256,
                  "ours_masks_per_s": ..., "ours_seconds_per_mask": ...,
                  "reference_masks_per_s": ..., "ratio": ...,
                  "ours_hole_ratio": {"mean": ..., "p10": ..., "p50": ..., "p90": ...},
                  "reference_hole_ratio": {...},
                  "ours_exact_ratio": {"hole_ratio": [0.2, 0.3], "masks_per_s": ...,
                                       "over_plain": ...}}, ...]}

`ratio` is ours / reference masks per second (above 1: ours is faster);
`over_plain` is the exact-ratio option's masks per second over the plain
generator's.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# One tf.function per kind and size is the point here, not a retracing bug.
tf.get_logger().setLevel("ERROR")


from benchlib import hole_ratio_summary  # noqa: E402
from reference_masks import make_reference  # noqa: E402

from keras_inpaint.data import masks  # noqa: E402

KINDS = ("random_boxes", "random_region", "irregular_strokes", "free_form")
SHAPE_KINDS = ("random_boxes", "irregular_strokes", "free_form")
EXACT_RATIO = (0.2, 0.3)
# `exact_ratio`: also time the shape kinds with `hole_ratio=EXACT_RATIO`.
SETTINGS = {
    "tiny": {"sizes": (32,), "batch": 4, "runs": 1, "exact_ratio": True},
    "quick": {"sizes": (256, 512), "batch": 16, "runs": 3, "exact_ratio": False},
    "full": {"sizes": (128, 256, 512), "batch": 64, "runs": 15, "exact_ratio": True},
}


def log(message):
    print(message, file=sys.stderr, flush=True)


def ours_function(kind, batch, size, **options):
    """A traced generator: seed in, `(batch, size, size, 1)` masks out."""
    generator = getattr(masks, kind)

    @tf.function(input_signature=[tf.TensorSpec([2], tf.int32)])
    def make(seed):
        return generator(batch, size, size, seed, **options)

    make(tf.constant([0, 0])).numpy()  # trace and warm up
    # The masks stay a tensor, where a model uses them; the computation is
    # done when the call returns (eager execution is synchronous on CPU).
    return lambda run: make(tf.constant([1, run]))


def reference_function(kind, batch, size, seed):
    draw = make_reference(kind, seed)
    return lambda run: np.stack([draw(size, size) for _ in range(batch)])


def hole_ratios(masks):
    masks = np.asarray(masks)
    return masks.reshape(len(masks), -1).mean(axis=1)


def interleaved(functions, runs):
    """Median seconds of each function and the hole ratios it drew; runs alternate."""
    times = {name: [] for name in functions}
    ratios = {name: [] for name in functions}
    for run in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            masks = function(run)
            times[name].append(time.perf_counter() - start)
            ratios[name].append(hole_ratios(masks))
    return {name: statistics.median(values) for name, values in times.items()}, ratios


def measure(kind, size, batch, runs, exact_ratio=True):
    functions = {
        "ours": ours_function(kind, batch, size),
        "reference": reference_function(kind, batch, size, seed=size),
    }
    if exact_ratio and kind in SHAPE_KINDS:
        functions["exact"] = ours_function(kind, batch, size, hole_ratio=EXACT_RATIO)
    seconds, outputs = interleaved(functions, runs)
    ours = batch / seconds["ours"]
    reference = batch / seconds["reference"]
    result = {
        "kind": kind,
        "size": size,
        "ours_masks_per_s": round(ours, 1),
        "ours_seconds_per_mask": seconds["ours"] / batch,
        "reference_masks_per_s": round(reference, 1),
        "ratio": round(ours / reference, 3),
        "ours_hole_ratio": hole_ratio_summary(outputs["ours"]),
        "reference_hole_ratio": hole_ratio_summary(outputs["reference"]),
    }
    if "exact" in seconds:
        exact = batch / seconds["exact"]
        result["ours_exact_ratio"] = {
            "hole_ratio": list(EXACT_RATIO),
            "masks_per_s": round(exact, 1),
            "over_plain": round(exact / ours, 3),
        }
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    setting = parser.add_mutually_exclusive_group()
    setting.add_argument("--tiny", action="store_true", help="32x32, batch 4, one run")
    setting.add_argument("--quick", action="store_true", help="256 and 512, fewer runs")
    args = parser.parse_args()
    name = "tiny" if args.tiny else "quick" if args.quick else "full"
    config = SETTINGS[name]
    results = []
    for size in config["sizes"]:
        for kind in KINDS:
            start = time.perf_counter()
            result = measure(kind, size, config["batch"], config["runs"], config["exact_ratio"])
            log(
                f"{kind} {size}x{size}: ours {result['ours_masks_per_s']} masks/s, "
                f"reference {result['reference_masks_per_s']} masks/s, ratio {result['ratio']} "
                f"({time.perf_counter() - start:.1f} s)"
            )
            results.append(result)
    report = {
        "benchmark": "masks",
        "setting": name,
        "batch": config["batch"],
        "runs": config["runs"],
        "results": results,
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "tensorflow": tf.__version__,
            "opencv": __import__("cv2").__version__,
        },
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
