"""Masks per second of every mask kind compiled with XLA against the same kind in a graph.

For each kind (`center_box`, `random_boxes`, `random_region`,
`irregular_strokes`, `free_form`, and the three shape kinds with the exact
`hole_ratio=(0.2, 0.3)` option) and image size, one batch of masks from a
`tf.function` with `jit_compile=True` and from the same `tf.function` without
it (a new stateless seed per call; the masks stay a tensor), traced, compiled
and warmed up first; calls alternate between the two so that a change of load
on a shared machine hits both alike, and the figure is the median over the
runs. Also reported: the first call's seconds (tracing plus compiling), the
hole-ratio distribution of every mask drawn in each mode, whether the two
modes gave the same masks, and the load average before and after.

    python benchmarks/masks_xla.py [--tiny | --quick]

`--tiny`: 32x32, batch 4, one run, the five kinds without the exact-ratio option
(seconds, for tests; tests/data/test_masks_xla.py compiles those); `--quick`: 256 and
512, batch 16, 3 runs; no flag: 256 and 512, batch 64, 7 runs. Prints one
JSON object as its last line:

    {"benchmark": "masks_xla", "setting": "full", "batch": 64, "runs": 7,
     "results": [{"kind": "free_form", "options": {}, "size": 256,
                  "graph_masks_per_s": ..., "xla_masks_per_s": ..., "xla_speedup": ...,
                  "graph_first_call_s": ..., "xla_first_call_s": ...,
                  "graph_hole_ratio": {"mean": ..., "p10": ..., "p50": ..., "p90": ...},
                  "xla_hole_ratio": {...}, "same_masks": false}, ...],
     "load_average_before": [...], "load_average_after": [...], "machine": {...}}

`xla_speedup` is XLA's masks per second over the graph's (above 1: XLA is
faster).
"""

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from benchlib import (  # noqa: E402
    emit,
    hole_ratio_summary,
    log,
    machine_description,
    parse_setting,
)

from keras_inpaint.data import masks  # noqa: E402

# One tf.function per kind, size and mode is the point here, not a retracing bug.
tf.get_logger().setLevel("ERROR")

EXACT_RATIO = (0.2, 0.3)
CASES = (
    ("center_box", {}),
    ("random_boxes", {}),
    ("random_region", {}),
    ("irregular_strokes", {}),
    ("free_form", {}),
    ("random_boxes", {"hole_ratio": EXACT_RATIO}),
    ("irregular_strokes", {"hole_ratio": EXACT_RATIO}),
    ("free_form", {"hole_ratio": EXACT_RATIO}),
)
SETTINGS = {
    "tiny": {"sizes": (32,), "batch": 4, "runs": 1, "cases": CASES[:5]},
    "quick": {"sizes": (256, 512), "batch": 16, "runs": 3, "cases": CASES},
    "full": {"sizes": (256, 512), "batch": 64, "runs": 7, "cases": CASES},
}


def mask_function(kind, options, batch, size, jit_compile):
    """`(function, first_call_s)`: seed in, `(batch, size, size, 1)` masks out, traced."""
    mask_fn = masks.make_mask_fn({"kind": kind, **options})
    function = tf.function(lambda seed: mask_fn(batch, size, size, seed), jit_compile=jit_compile)
    start = time.perf_counter()
    function(tf.constant([0, 0])).numpy()
    return function, time.perf_counter() - start


def measure(kind, options, size, batch, runs):
    """Both modes' masks per second, first-call seconds and hole ratios; calls alternate."""
    functions, first_call = {}, {}
    for mode, jit_compile in (("graph", False), ("xla", True)):
        functions[mode], first_call[mode] = mask_function(kind, options, batch, size, jit_compile)
    times = {mode: [] for mode in functions}
    ratios = {mode: [] for mode in functions}
    same = True
    for run in range(runs):
        drawn = {}
        for mode, function in functions.items():
            start = time.perf_counter()
            drawn[mode] = function(tf.constant([1, run])).numpy()
            times[mode].append(time.perf_counter() - start)
            ratios[mode].append(drawn[mode].reshape(batch, -1).mean(axis=1))
        same = same and np.array_equal(drawn["graph"], drawn["xla"])
    per_s = {mode: batch / statistics.median(values) for mode, values in times.items()}
    return {
        "kind": kind,
        "options": {key: list(value) for key, value in options.items()},
        "size": size,
        "graph_masks_per_s": round(per_s["graph"], 1),
        "xla_masks_per_s": round(per_s["xla"], 1),
        "xla_speedup": round(per_s["xla"] / per_s["graph"], 3),
        "graph_first_call_s": round(first_call["graph"], 2),
        "xla_first_call_s": round(first_call["xla"], 2),
        "graph_hole_ratio": hole_ratio_summary(ratios["graph"]),
        "xla_hole_ratio": hole_ratio_summary(ratios["xla"]),
        "same_masks": bool(same),
    }


def main():
    setting, _ = parse_setting(__doc__.split("\n\n")[0])
    config = SETTINGS[setting]
    load_before = list(os.getloadavg())
    results = []
    for size in config["sizes"]:
        for kind, options in config["cases"]:
            start = time.perf_counter()
            result = measure(kind, options, size, config["batch"], config["runs"])
            log(
                f"{kind} {options or ''} {size}x{size}: graph {result['graph_masks_per_s']} "
                f"masks/s, XLA {result['xla_masks_per_s']} masks/s, speed-up "
                f"{result['xla_speedup']} ({time.perf_counter() - start:.1f} s)"
            )
            results.append(result)
    emit(
        {
            "benchmark": "masks_xla",
            "setting": setting,
            "batch": config["batch"],
            "runs": config["runs"],
            "results": results,
            "load_average_before": load_before,
            "load_average_after": list(os.getloadavg()),
            "machine": machine_description(),
        }
    )


if __name__ == "__main__":
    main()
