"""Validation PSNR and speed of each shipped preset, its generator in float32 and mixed_bfloat16.

Each preset's generator is built twice from its `config.json`, once under
the `float32` and once under the `mixed_bfloat16` Keras dtype policy
(`keras_inpaint.training.recipes.precision_policy`), with the same
`model.weights.h5`. Both run behind the uint8-in / uint8-out serving
function of the exports (`keras_inpaint.export.signatures.serving_function`,
tiles included), on the photo benchmark of `keras-inpaint evaluate --photos
DIR --files LIST` (`keras_inpaint.photo_benchmark.benchmark_pairs`: 256x256
centre crops, seeded free-form and box holes) and are scored by
`keras_inpaint.evaluation.evaluate_pairs`, the metrics of that command.
The speed is the serving function's median time on one benchmark pair, the
two precisions interleaved (`benchlib.interleaved_medians`).

    python benchmarks/precision_psnr.py --photos DIR/images --files DIR/val.txt
    python benchmarks/precision_psnr.py --tiny

Settings: `--tiny` writes 2 smooth random photos of its own, scores them as
128x128 crops and times 1 run (for the tests); otherwise `--photos` and `--files` are
required, `--count N` keeps the list's first N photos, `--presets A,B` some
presets (default: every shipped one), 5 timing runs (`--quick` 3).
Standalone (not run by `run_all.py`).

Prints one JSON object: `{"benchmark": "precision_psnr", "setting", "machine",
"photos", "results": [{"preset", "generator", "psnr_float32", "psnr_bfloat16",
"delta_db", "hole_psnr_float32", "hole_psnr_bfloat16", "hole_delta_db",
"max_abs_hole_delta_db", "serve_float32_s", "serve_bfloat16_s",
"forward_speedup"}]}`. PSNRs are means over the photos with a hole (dB,
pixels in [0, 1]); the deltas are bfloat16 minus float32, `max_abs_hole_delta_db`
the largest per-photo hole-PSNR change, `forward_speedup` float32 seconds
over bfloat16 seconds.
"""

import sys
import tempfile
from pathlib import Path

from benchlib import emit, interleaved_medians, log, machine_description, parse_setting

from keras_inpaint.photo_benchmark import BENCHMARK_SIZE, benchmark_pairs

PRECISIONS = ("float32", "mixed_bfloat16")
TINY_PHOTOS = 2
RUNS = {"tiny": 1, "quick": 3, "full": 5}
CROP = {"tiny": 128, "quick": BENCHMARK_SIZE, "full": BENCHMARK_SIZE}


def _add_arguments(parser):
    parser.add_argument("--photos", help="folder of the photographs (a corpus's images/)")
    parser.add_argument("--files", help="list file naming them, e.g. DIR/val.txt")
    parser.add_argument("--count", type=int, help="only the list's first COUNT photographs")
    parser.add_argument("--presets", help="comma-separated preset names (default: all shipped)")


def write_tiny_photos(folder, count=TINY_PHOTOS):
    """Write `count` smooth random 256x256 PNG photos and their `list.txt`; return the list."""
    import tensorflow as tf

    names = []
    for index in range(count):
        coarse = tf.random.stateless_uniform((1, 6, 6, 3), [index, 7], 0.0, 255.0)
        photo = tf.cast(tf.image.resize(coarse, (256, 256))[0], tf.uint8)
        names.append(f"photo_{index}.png")
        tf.io.write_file(str(Path(folder) / names[-1]), tf.io.encode_png(photo))
    list_file = Path(folder) / "list.txt"
    list_file.write_text("\n".join(names) + "\n")
    return list_file


def serving_method(preset, precision):
    """`(method, generator)`: the preset's uint8 serving function with its generator in `precision`.

    `method` takes uint8 `(1, H, W, 3)` images and `(1, H, W, 1)` masks and
    returns the uint8 composite, as `keras_inpaint.inference.Predictor` does.
    """
    import tensorflow as tf

    from keras_inpaint import contract, presets
    from keras_inpaint.export.precision import with_precision
    from keras_inpaint.export.signatures import serving_function

    # What `keras-inpaint export --precision` exports.
    model = with_precision(presets.load_inpainter(preset), precision)
    function = tf.function(serving_function(model), reduce_retracing=True)

    def method(image, mask):
        image, mask = tf.constant(image, tf.uint8), tf.constant(mask, tf.uint8)
        return function(**{contract.IMAGE: image, contract.MASK: mask})[contract.INPAINTED].numpy()

    return method, model.generator


def _summary(report, precision):
    return report["summary"][precision]


def _hole_deltas(rows):
    """Per-photo hole-PSNR change, bfloat16 minus float32 (photos with a hole)."""
    by_image = {}
    for row in rows:
        if row["hole_ratio"] > 0:
            by_image.setdefault(row["image"], {})[row["method"]] = row["hole_psnr"]
    return [values["mixed_bfloat16"] - values["float32"] for values in by_image.values()]


def measure(preset, pairs, runs):
    """The preset's PSNRs under both precisions on `pairs` and their serving times."""
    from keras_inpaint.evaluation import evaluate_pairs

    methods, generators = {}, {}
    for precision in PRECISIONS:
        methods[precision], generators[precision] = serving_method(preset, precision)
    if generators["mixed_bfloat16"].dtype_policy.name != "mixed_bfloat16":
        raise RuntimeError(f"{preset}: the generator was not built under mixed_bfloat16.")
    report = evaluate_pairs(pairs, methods)
    image, mask = pairs[0].image[None], pairs[0].mask[None]
    seconds = interleaved_medians(
        {name: (lambda method=method: method(image, mask)) for name, method in methods.items()},
        runs,
    )
    float32, bfloat16 = _summary(report, "float32"), _summary(report, "mixed_bfloat16")
    deltas = _hole_deltas(report["rows"])
    result = {
        "preset": preset,
        "generator": type(generators["float32"]).__name__,
        "psnr_float32": round(float32["psnr"], 4),
        "psnr_bfloat16": round(bfloat16["psnr"], 4),
        "delta_db": round(bfloat16["psnr"] - float32["psnr"], 4),
        "hole_psnr_float32": round(float32["hole_psnr"], 4),
        "hole_psnr_bfloat16": round(bfloat16["hole_psnr"], 4),
        "hole_delta_db": round(bfloat16["hole_psnr"] - float32["hole_psnr"], 4),
        "max_abs_hole_delta_db": round(max(abs(delta) for delta in deltas), 4),
        "serve_float32_s": round(seconds["float32"], 4),
        "serve_bfloat16_s": round(seconds["mixed_bfloat16"], 4),
        "forward_speedup": round(seconds["float32"] / seconds["mixed_bfloat16"], 3),
    }
    log(f"{preset}: {result}")
    return result


def _photo_source(setting, args, scratch):
    """`(photos folder, list file)` from the arguments, or the tiny setting's own photos."""
    if setting == "tiny":
        return scratch, write_tiny_photos(scratch)
    if args.photos is None or args.files is None:
        raise ValueError(
            "give the photographs with --photos DIR/images --files DIR/val.txt "
            "(or --tiny for a run on generated photos)."
        )
    return args.photos, args.files


def _preset_names(names):
    from keras_inpaint import presets

    if names is None:
        return presets.list()
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in presets.list()]
    if unknown or not chosen:
        raise ValueError(f"--presets {names!r}: give names among {', '.join(presets.list())}.")
    return chosen


def main():
    setting, args = parse_setting(__doc__.split("\n\n")[0], _add_arguments)
    names = _preset_names(args.presets)
    with tempfile.TemporaryDirectory() as scratch:
        photos, files = _photo_source(setting, args, scratch)
        pairs = benchmark_pairs(photos, files, size=CROP[setting], count=args.count)
    log(f"{len(pairs)} photos, presets {', '.join(names)}")
    results = [measure(name, pairs, RUNS[setting]) for name in names]
    emit(
        {
            "benchmark": "precision_psnr",
            "setting": setting,
            "machine": machine_description(),
            "photos": len(pairs),
            "results": results,
        }
    )


if __name__ == "__main__":
    sys.exit(main())
