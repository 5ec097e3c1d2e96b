"""Time to inpaint one photograph with a preset, after the model is loaded.

What `keras-inpaint inpaint --image photo.jpg --mask mask.png --out out.png`
spends on the model: `keras_inpaint.inference.Predictor(preset)` on a uint8
image and a mask with a 30 % hole (free-form strokes), batch 1, for each
size, after one warm-up call (tracing). The preset is the default one; where
no preset ships yet (or `--tiny`) it is the default preset's recipe, untrained,
which has the same architecture and so the same cost. The target is under 2 s
at 512x512 on the 2-core CPU.

    python benchmarks/preset_latency.py [--tiny | --quick]

Prints one JSON object: `{"benchmark": "preset_latency", "setting", "runs",
"preset", "target_ms", "results": [{"size", "median_ms", "min_ms"}],
"ms_at_512"}`.
"""

from benchlib import emit, interleaved_times, log, parse_setting  # noqa: E402

SETTINGS = {
    "tiny": {"sizes": (64,), "runs": 2},
    "quick": {"sizes": (256, 512), "runs": 5},
    "full": {"sizes": (256, 512, 1024), "runs": 11},
}
TARGET_MS = 2000.0
DEFAULT_RECIPE = "glcic/photos_128"


def predictor(tiny):
    """`(name, Predictor)`: the default preset, or its recipe's untrained generator."""
    import tempfile

    import keras

    from keras_inpaint import presets
    from keras_inpaint.inference import Predictor
    from keras_inpaint.training.recipes import build_networks, load_recipe

    if presets.list() and not tiny:
        name = presets.default_name()
        return name, Predictor(name)
    keras.utils.set_random_seed(0)
    generator, _ = build_networks(load_recipe(DEFAULT_RECIPE))
    folder = presets.save(generator, tempfile.mkdtemp() + "/untrained")
    return f"{DEFAULT_RECIPE} (untrained)", Predictor(folder)


def main():
    import numpy as np
    import tensorflow as tf

    from keras_inpaint.data.masks import free_form

    setting, _ = parse_setting(__doc__.split("\n\n")[0])
    config = SETTINGS[setting]
    name, predict = predictor(setting == "tiny")
    results = []
    for size in config["sizes"]:
        rng = np.random.default_rng(size)
        image = rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8)
        mask = free_form(1, size, size, tf.constant([0, size]), hole_ratio=(0.29, 0.31))
        mask = mask.numpy().astype(np.uint8)
        times = interleaved_times(
            {"inpaint": lambda image=image, mask=mask: predict(image, mask)}, config["runs"]
        )
        seconds = times["inpaint"]
        row = {
            "size": size,
            "median_ms": round(1000 * float(np.median(seconds)), 1),
            "min_ms": round(1000 * float(np.min(seconds)), 1),
        }
        log(f"preset_latency {name} {size}x{size}: {row['median_ms']} ms")
        results.append(row)
    at_512 = [row["median_ms"] for row in results if row["size"] == 512]
    emit(
        {
            "benchmark": "preset_latency",
            "setting": setting,
            "runs": config["runs"],
            "preset": name,
            "target_ms": TARGET_MS,
            "results": results,
            "ms_at_512": at_512[0] if at_512 else None,
        }
    )


if __name__ == "__main__":
    main()
