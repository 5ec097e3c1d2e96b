"""Helpers shared by the benchmark scripts: settings, same-process timing, the matmul reference.

Every script takes `--tiny` (seconds, for the tests), `--quick` (a minute or
two, for `run_all.py --quick`) or neither (the full run), logs to stderr and
prints exactly one JSON object as the last line of stdout.

Example:
    >>> from benchlib import interleaved_medians
    >>> seconds = interleaved_medians({"noop": lambda: None}, runs=3)
    >>> sorted(seconds)
    ['noop']
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SETTINGS = ("tiny", "quick", "full")


def parse_setting(description, add_arguments=None):
    """`(setting, args)` from the command line: `--tiny`, `--quick` or the full run."""
    parser = argparse.ArgumentParser(description=description)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--tiny", action="store_true", help="seconds-long run for the tests")
    group.add_argument("--quick", action="store_true", help="short run for run_all.py --quick")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    setting = "tiny" if args.tiny else "quick" if args.quick else "full"
    return setting, args


def child_result(command, model):
    """The first result of a benchmark run in a child process, or an error entry for `model`.

    `command` runs one script on one model (`[sys.executable, script, "--only", key]`);
    its own process means running out of memory loses that model's figures only, and
    the memory of one model is returned before the next is built.
    """
    import subprocess

    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        return json.loads(completed.stdout.strip().splitlines()[-1])["results"][0]
    except (IndexError, KeyError, ValueError):
        tail = " | ".join(completed.stderr.strip().splitlines()[-2:])
        return {"model": model, "error": f"exit status {completed.returncode}: {tail}"[:500]}


def log(*parts):
    """Progress line on stderr (stdout is reserved for the one JSON object)."""
    print(*parts, file=sys.stderr, flush=True)


def emit(result):
    """Print the benchmark's JSON object as the last line of stdout."""
    sys.stdout.flush()
    print(json.dumps(result), flush=True)


def finish(value):
    # Pull the result to the host, so an asynchronous device has finished too.
    if hasattr(value, "numpy"):
        value.numpy()
    elif isinstance(value, dict | list | tuple):
        for item in value.values() if isinstance(value, dict) else value:
            finish(item)


def interleaved_times(functions, runs, warmup=1):
    """Seconds of each of `runs` calls of each function, the calls alternating.

    Alternating the functions makes a change of load on a shared machine hit
    all of them alike, so their ratios hold even when the absolute times do not.
    """
    for function in functions.values():
        for _ in range(warmup):
            finish(function())  # trace, compile and warm the caches
    times = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            finish(function())
            times[name].append(time.perf_counter() - start)
    return times


def interleaved_medians(functions, runs, warmup=1):
    """Median seconds of each function over interleaved runs (see `interleaved_times`)."""
    times = interleaved_times(functions, runs, warmup)
    return {name: statistics.median(values) for name, values in times.items()}


def matmul_reference(size):
    """`(function, flops)`: a `size x size` float32 matmul as a compiled `tf.function`.

    Its GFLOP/s is the yardstick for how well a model uses the same machine
    at the same moment.
    """
    import tensorflow as tf

    left = tf.random.stateless_normal((size, size), seed=[1, 2])
    right = tf.random.stateless_normal((size, size), seed=[3, 4])
    function = tf.function(lambda: tf.linalg.matmul(left, right))
    return function, 2.0 * size**3


def example_batch(recipe, batch_size, size, seed=0):
    """`((masked_image, mask), image)`: smooth random images and the recipe's own masks."""
    import tensorflow as tf

    from keras_inpaint.data import masks
    from keras_inpaint.data.pipeline import load_data_spec

    mask_fn = masks.make_mask_fn(load_data_spec(recipe["data"])["masks"])
    coarse = tf.random.stateless_uniform((batch_size, 8, 8, 3), [seed, 0], -1.0, 1.0)
    image = tf.image.resize(coarse, (size, size))
    mask = tf.cast(mask_fn(batch_size, size, size, tf.constant([seed, 1])), tf.float32)
    return (image * (1.0 - mask), mask), image


def hole_ratio_summary(ratios):
    """Mean and 10th/50th/90th percentiles of per-mask hole ratios (a list of arrays)."""
    import numpy as np

    ratios = np.concatenate(ratios)
    p10, p50, p90 = np.percentile(ratios, [10, 50, 90])
    return {
        "mean": round(float(ratios.mean()), 4),
        "p10": round(float(p10), 4),
        "p50": round(float(p50), 4),
        "p90": round(float(p90), 4),
    }


def machine_description():
    """CPU model, logical cores, RAM, accelerators and library versions."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gib = None
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemTotal"):
                    memory_gib = round(int(line.split()[1]) / 2**20, 1)
                    break
    except OSError:
        pass
    description = {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
    }
    try:
        import tensorflow as tf

        description["tensorflow"] = tf.__version__
        description["accelerators"] = [
            device.name
            for device in tf.config.list_physical_devices()
            if device.device_type != "CPU"
        ]
    except ImportError:
        pass
    try:
        import keras

        description["keras"] = keras.__version__
    except ImportError:
        pass
    return description
