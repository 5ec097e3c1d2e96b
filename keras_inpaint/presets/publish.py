"""Turn a finished training run into a preset folder with its model card.

`publish_preset` (the `keras-inpaint preset` command) takes a run directory,
scores its generator on the photo validation benchmark against the classical
fills, draws a sample sheet and the training curve, and writes the preset:
`config.json`, `model.weights.h5`, `metadata.json`, `README.md`,
`samples.png`, `curve.png` (layout in `keras_inpaint.presets.preset`) and
`check_output.png`, the preset's output on `check_pair()`.

Example:
    $ keras-inpaint preset runs/photos --name my_photos_preset --out presets/ \\
        --photos "$PHOTOS/images" --files "$PHOTOS/val.txt"
"""

import csv
import json
import platform
import shlex
import shutil
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

from keras_inpaint.contract import INPAINTED
from keras_inpaint.presets.preset import save

BASELINE_ROWS = ("push_pull", "ns", "telea", "biharmonic", "mean")
CARD_METRICS = ("psnr", "ssim", "hole_psnr", "hole_ssim", "hole_l1")
# The general default must beat the best classical fill's PSNR by this much.
DEFAULT_MARGIN_DB = 1.0


CHECK_OUTPUT_FILE = "check_output.png"


def check_pair(size=64):
    """The fixed small input every preset's recorded output is made from: uint8 image and mask.

    A colour gradient with a disc and stripes, and a hole of two boxes; the
    preset's output on it is stored as `check_output.png` when it is
    published, so a test can tell when weights or code drift.
    """
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    disc = ((x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.05).astype(np.float32)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * (x + 0.5 * y))
    image = np.stack([x, 0.5 * y + 0.5 * disc, 0.3 + 0.5 * stripes * (1 - disc)], axis=-1)
    image = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    mask = np.zeros((size, size, 1), np.uint8)
    mask[size // 4 : size // 2, size // 8 : size * 5 // 8] = 1
    mask[size * 5 // 8 : size * 7 // 8, size // 2 : size * 7 // 8] = 1
    return image, mask


def shown_path(path):
    """`path` as the card's command shows it: `"$PHOTOS/..."` when under `$PHOTOS`.

    The cards' commands then read like the README's, whose `PHOTOS` is the
    folder of the photo corpus, instead of naming one machine's folders.
    """
    import os

    root = os.environ.get("PHOTOS")
    if root:
        try:
            relative = Path(path).resolve().relative_to(Path(root).resolve())
        except ValueError:
            pass
        else:
            return f'"$PHOTOS/{relative.as_posix()}"'
    return shlex.quote(str(path))


def machine_description():
    """`"2-core Intel(R) Xeon(R) Processor (x86_64), no GPU"`: the CPU the card was written on."""
    import os

    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        model = names[0] if names else model
    return f"{os.cpu_count()}-core {model} ({platform.machine()}), no GPU"


def run_history(run_dir):
    """`(rows, steps, seconds)` of a run's metrics.csv: the epoch rows, steps done, wall time."""
    run_dir = Path(run_dir)
    with open(run_dir / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    recipe = json.loads((run_dir / "recipe.json").read_text())["recipe"]
    steps = len(rows) * int(recipe["training"]["steps_per_epoch"])
    seconds = sum(float(row.get("epoch_seconds") or 0.0) for row in rows)
    return rows, steps, seconds


def heldout_push_pull(record):
    """Push-pull's PSNR and hole PSNR on a run's own held-out batches (its curve's bar).

    `record` is the run's `recipe.json`; the held-out batches are rebuilt from
    its data spec exactly as the trainer builds them.
    """
    from keras_inpaint.data import build_dataset
    from keras_inpaint.evaluation import compare_methods
    from keras_inpaint.layers.push_pull import push_pull_fill

    recipe = record["recipe"]
    settings = recipe["training"]
    heldout = build_dataset(
        record["data"], recipe["image_size"], settings["batch_size"], "heldout"
    ).take(settings.get("validation_batches", 4))
    scores = compare_methods({"push_pull": push_pull_fill}, heldout)["push_pull"]
    return {"val_psnr": scores["psnr"], "val_hole_psnr": scores["hole_psnr"]}


def training_curve(rows, path, steps_per_epoch, reference=None):
    """Plot held-out PSNR (whole image and hole) against training steps.

    `reference` (`{"val_psnr": dB, "val_hole_psnr": dB}`) adds push-pull's
    scores on the same held-out batches as dashed lines.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One row per epoch, in order: row order, not the `epoch` column, which runs
    # written before it counted from 1 count from 0.
    steps = [(index + 1) * steps_per_epoch for index in range(len(rows))]
    figure, axis = plt.subplots(figsize=(6, 3.4))
    for key, metric in (("val_psnr", "PSNR"), ("val_hole_psnr", "hole PSNR")):
        if rows and key in rows[0]:
            values = [float(row[key]) for row in rows]
            line = axis.plot(steps, values, label=f"held-out {metric}")[0]
            if reference is not None and key in reference:
                axis.axhline(
                    reference[key],
                    linestyle="--",
                    linewidth=1,
                    color=line.get_color(),
                    label=f"push-pull, {metric}",
                )
    axis.set_xlabel("training step")
    axis.set_ylabel("dB")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def validation_table(report, names):
    """Markdown rows: method | whole PSNR | SSIM | hole PSNR | hole SSIM | hole L1, then buckets."""
    lines = [
        "| method | PSNR (dB) | SSIM | hole PSNR (dB) | hole SSIM | hole L1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        values = report["summary"][name]
        lines.append(
            f"| {name} | {values['psnr']:.2f} | {values['ssim']:.3f} | "
            f"{values['hole_psnr']:.2f} | {values['hole_ssim']:.3f} | {values['hole_l1']:.4f} |"
        )
    lines += ["", "Per hole-ratio bucket, whole-image PSNR (dB) / SSIM:", ""]
    buckets = sorted(
        {bucket for name in names for bucket in report["bucket_rows"][name]},
        key=lambda bucket: int(bucket.split("-")[0]),
    )
    lines.append("| method | " + " | ".join(buckets) + " |")
    lines.append("|---|" + "---:|" * len(buckets))
    for name in names:
        cells = []
        for bucket in buckets:
            values = report["bucket_rows"][name].get(bucket)
            cells.append(f"{values['psnr']:.2f} / {values['ssim']:.3f}" if values else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _signed(value, decimals):
    """`value` with its sign, to `decimals` places, more (up to 6) where those show 0."""
    while value != 0 and round(value, decimals) == 0 and decimals < 6:
        decimals += 1
    return f"{value:+.{decimals}f}"


def target_lines(metadata):
    """The card's verdict against the presets' targets, in Markdown bullet lines.

    Every preset must beat mean fill and OpenCV Telea on whole-image PSNR and
    SSIM; the default preset must also beat the best classical fill's PSNR by
    `DEFAULT_MARGIN_DB` and the best classical SSIM. Each line says by how
    much a target is met or missed.
    """
    summary = metadata["validation"]["summary"]
    own = summary[metadata["name"]]

    def verdict(label, psnr_bar, ssim_bar):
        dpsnr, dssim = own["psnr"] - psnr_bar, own["ssim"] - ssim_bar
        met = dpsnr > 0 and dssim > 0
        return (
            f"- {label}: {'met' if met else '**not met**'} "
            f"(PSNR {_signed(dpsnr, 2)} dB, SSIM {_signed(dssim, 4)})"
        )

    lines = [
        verdict(f"beats {method}", summary[method]["psnr"], summary[method]["ssim"])
        for method in ("mean", "telea")
        if method in summary
    ]
    if metadata.get("default"):
        classical = [method for method in BASELINE_ROWS if method in summary]
        best_psnr = max(summary[method]["psnr"] for method in classical)
        best_ssim = max(summary[method]["ssim"] for method in classical)
        lines.append(
            verdict(
                f"default preset: best classical PSNR + {DEFAULT_MARGIN_DB} dB "
                f"({best_psnr + DEFAULT_MARGIN_DB:.2f}) and best classical SSIM ({best_ssim:.4f})",
                best_psnr + DEFAULT_MARGIN_DB,
                best_ssim,
            )
        )
    return lines


def presets_table(names):
    """The README's "Pretrained presets" table (Markdown) from the presets' metadata.

    One row per preset: family, parameters, validation PSNR / SSIM next to
    push-pull's and Telea's, and the command that uses it.
    """
    from keras_inpaint.presets.preset import metadata as preset_metadata

    lines = [
        "| preset | family | params | PSNR / SSIM | push-pull | Telea | command |",
        "|---|---|---:|---|---|---|---|",
    ]
    for name in names:
        metadata = preset_metadata(name)
        summary = metadata["validation"]["summary"]
        scores = [
            f"{summary[method]['psnr']:.2f} / {summary[method]['ssim']:.4f}"
            for method in (name, "push_pull", "telea")
        ]
        label = f"`{name}` (default)" if metadata.get("default") else f"`{name}`"
        lines.append(
            f"| {label} | {metadata['family']} | {metadata['trainable_params']:,} | "
            + " | ".join(scores)
            + f" | `keras-inpaint inpaint --preset {name} ...` |"
        )
    return "\n".join(lines)


def benchmark_buckets(report):
    """Group the benchmark's rows by its three hole-ratio buckets (5-20, 20-40, 40-60 %)."""
    from keras_inpaint.evaluation import summarise
    from keras_inpaint.photo_benchmark import HOLE_BUCKETS

    def bucket(row):
        for low, high in HOLE_BUCKETS:
            if row["hole_ratio"] <= high:
                return f"{int(low * 100)}-{int(high * 100)}%"
        return f"{int(HOLE_BUCKETS[-1][0] * 100)}-100%"

    scored = [row for row in report["rows"] if row["hole_ratio"] > 0]
    return {
        name: summarise([row for row in scored if row["method"] == name], key=bucket)
        for name in report["summary"]
    }


def publish_preset(
    run_dir,
    name,
    out_dir,
    photos=None,
    files=None,
    description="",
    training_data=None,
    default=False,
    baselines=BASELINE_ROWS,
):
    """Write the preset `out_dir/name` from the run `run_dir` (see the module docstring).

    Args:
        run_dir: a finished `keras-inpaint train` run directory.
        name: the preset's name (one folder name).
        out_dir: where the preset folder is created.
        photos, files: the validation photographs and their list (the photo
            benchmark); without them the card has no validation table.
        description: one paragraph for the card.
        training_data: dict describing the training data (name, licences...).
        default: mark the preset as the general default.
        baselines: the classical fills in the validation table.

    Returns:
        the preset folder's `Path`.
    """
    import tensorflow as tf

    from keras_inpaint.baselines import BASELINES
    from keras_inpaint.comparison_sheet import comparison_sheet
    from keras_inpaint.evaluation import evaluate_pairs
    from keras_inpaint.export import serving_function
    from keras_inpaint.inference import load_model
    from keras_inpaint.photo_benchmark import benchmark_pairs

    if not name or Path(name).name != name:
        raise ValueError(f"preset name {name!r} must be one folder name (no '/').")
    run_dir = Path(run_dir)
    model = load_model(run_dir)
    recipe = json.loads((run_dir / "recipe.json").read_text())
    rows, steps, seconds = run_history(run_dir)
    steps_per_epoch = int(recipe["recipe"]["training"]["steps_per_epoch"])
    metadata = {
        "name": name,
        "default": bool(default),
        "family": recipe["recipe"]["name"].split("/")[0],
        "description": description,
        "generator_class": type(model.generator).__name__,
        "trainable_params": int(sum(np.prod(w.shape) for w in model.generator.trainable_weights)),
        "recipe": recipe["recipe"],
        "data_spec": recipe["data"],
        "training_data": training_data or {},
        "steps": steps,
        "epochs": len(rows),
        "batch_size": int(recipe["recipe"]["training"]["batch_size"]),
        # The policy the run trained under (runs before it was recorded: None).
        "precision": recipe.get("precision"),
        "wall_time_s": round(seconds, 1),
        "init_preset": recipe.get("init_preset"),
        "init_steps": (recipe.get("init_preset") or {}).get("steps", 0),
        "init_wall_time_s": (recipe.get("init_preset") or {}).get("wall_time_s", 0.0),
        "machine": machine_description(),
        "date": date.today().isoformat(),
    }
    work = Path(tempfile.mkdtemp(prefix="keras-inpaint-preset-"))
    extra = {}
    predict = tf.function(serving_function(model, 4096), reduce_retracing=True)

    def preset_method(image, mask):
        result = predict(image=tf.constant(image, tf.uint8), mask=tf.constant(mask, tf.uint8))
        return result[INPAINTED].numpy()

    if photos is not None:
        pairs = benchmark_pairs(photos, files)
        methods = {name: preset_method, **{b: BASELINES[b] for b in baselines}}
        report = evaluate_pairs(pairs, methods)
        report["bucket_rows"] = benchmark_buckets(report)
        command = " ".join(
            [
                "keras-inpaint evaluate --photos",
                shown_path(photos),
                *(["--files", shown_path(files)] if files else []),
                f"--preset {name} --baselines {','.join(baselines)}",
            ]
        )
        metadata["validation"] = {
            "benchmark": f"{len(pairs)} photographs of {Path(files).name if files else photos}, "
            "256x256 centre crops, seeded free-form and box holes of 5-20/20-40/40-60 %",
            "command": command,
            "summary": {
                k: {m: v[m] for m in ("count", *CARD_METRICS)} for k, v in report["summary"].items()
            },
            "buckets": report["bucket_rows"],
        }
        metadata["validation_table"] = validation_table(report, [name, *baselines])
        shown = [pairs[i] for i in (0, 4, 2, 5) if i < len(pairs)]
        sheet_methods = {name: preset_method, "push_pull": BASELINES["push_pull"]}
        extra["samples.png"] = comparison_sheet(
            shown, sheet_methods, work / "samples.png", scores=report["rows"]
        )
    if rows:
        reference = heldout_push_pull(recipe)
        metadata["heldout_push_pull"] = reference
        extra["curve.png"] = training_curve(rows, work / "curve.png", steps_per_epoch, reference)
    from keras_inpaint.callbacks import write_png

    check_image, check_mask = check_pair()
    write_png(work / CHECK_OUTPUT_FILE, preset_method(check_image[None], check_mask[None])[0])
    extra[CHECK_OUTPUT_FILE] = work / CHECK_OUTPUT_FILE
    card = model_card(metadata)
    try:
        return save(
            model.generator, Path(out_dir) / name, metadata=metadata, card=card, extra_files=extra
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _precision_note(precision):
    """How a card's training row names a run's precision: nothing for float32 or unknown."""
    return f" in {precision}" if precision not in (None, "float32") else ""


def model_card(metadata):
    """The preset's README.md (model card) from its metadata."""
    data = metadata.get("training_data", {})
    hours = metadata["wall_time_s"] / 3600
    started = ""
    if metadata.get("init_preset"):
        init = metadata["init_preset"]
        started = (
            f", fine-tuning `{init['name']}`: {init['steps']:,} steps of `{init['recipe']}` "
            f"before them ({init['wall_time_s'] / 3600:.2f} h)"
        )
    lines = [
        f"# Preset `{metadata['name']}`",
        "",
        metadata.get("description", ""),
        "",
        "| | |",
        "|---|---|",
        f"| family | {metadata['family']} |",
        f"| generator | `{metadata['generator_class']}`, "
        f"{metadata['trainable_params']:,} trainable parameters |",
        f"| recipe | `{metadata['recipe']['name']}` |",
        f"| training | {metadata['steps']:,} steps of batch {metadata['batch_size']}"
        f"{_precision_note(metadata.get('precision'))}, "
        f"{hours:.2f} h on {metadata['machine']}{started} |",
        f"| training data | {data.get('name', 'see metadata.json')} |",
        f"| licences | {data.get('licences', 'see metadata.json')} |",
        f"| default preset | {'yes' if metadata['default'] else 'no'} |",
        "",
        "```bash",
        f"keras-inpaint inpaint --preset {metadata['name']} --image photo.jpg --mask mask.png "
        "--out out.png",
        "```",
        "",
    ]
    if "validation" in metadata:
        lines += [
            "## Validation",
            "",
            metadata["validation"]["benchmark"] + ". Made by:",
            "",
            "```bash",
            metadata["validation"]["command"],
            "```",
            "",
            metadata["validation_table"],
            "",
            "Targets (whole-image PSNR and SSIM on this benchmark):",
            "",
            *target_lines(metadata),
            "",
            "![samples: masked input, this preset, push-pull, truth](samples.png)",
            "",
        ]
    lines += [
        "## Training curve",
        "",
        "Held-out PSNR after each epoch (the training run's own held-out crops), and "
        "push-pull's on the same crops (dashed).",
        "",
        "![training curve](curve.png)",
        "",
    ]
    return "\n".join(lines)
