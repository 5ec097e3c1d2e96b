"""`keras-inpaint evaluate`: models and baselines on the same images and holes, one table.

`run_evaluation` is the library call behind the command; `keras_inpaint.cli`
maps the command's flags to its keyword arguments.

Example:
    $ keras-inpaint evaluate --data builtin_64_boxes --model runs/quickstart \\
        --baselines mean,telea,ns --json eval.json --csv eval.csv --sheet eval.png
"""

import json
import sys
from pathlib import Path

import numpy as np

from keras_inpaint.baselines import BASELINES
from keras_inpaint.comparison_sheet import comparison_sheet, select_pairs
from keras_inpaint.evaluation import (
    METRICS,
    Pair,
    dataset_pairs,
    evaluate_pairs,
    format_summary,
    load_pairs,
    write_report,
)
from keras_inpaint.progress import Progress


def _mask_spec(masks):
    """A mask spec from a dict, a JSON object's text or a .json file's path."""
    if isinstance(masks, dict):
        return masks
    text = str(masks)
    path = Path(text)
    if path.suffix == ".json":
        if not path.is_file():
            raise FileNotFoundError(f"--masks file {path} does not exist.")
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"--masks file {path} is not valid JSON: {error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(
            f"--masks {text!r} is neither a JSON object nor a .json file; e.g. "
            '--masks \'{"kind": "free_form"}\''
        ) from None


SOURCES = ("pairs", "photos", "tfds", "data")


def _pairs(source, kind, files, split, masks, size, count, seed):
    """The images and masks of `source`, a folder (`pairs`, `photos`) or a name of `kind`."""
    if kind == "pairs":
        return load_pairs(source)
    if kind == "photos":
        from keras_inpaint.photo_benchmark import benchmark_pairs

        return benchmark_pairs(source, files, seed=seed)
    if kind == "tfds":
        spec = {"type": "tfds", "name": source, "heldout_split": split}
        return dataset_pairs(spec, _mask_spec(masks), size, count, seed)
    from keras_inpaint.data import build_dataset, load_data_spec
    from keras_inpaint.images import model_to_uint8

    spec = load_data_spec(source)
    batches = build_dataset(spec, spec.get("image_size", size), 16, split="heldout")
    pairs = []
    for (_, mask), image in batches:
        for one_image, one_mask in zip(model_to_uint8(image).numpy(), mask.numpy(), strict=True):
            pairs.append(Pair(f"{len(pairs):05d}", one_image, one_mask.astype(np.uint8)))
    return pairs[:count]


def _methods(models, presets, baselines, poisson_blend):
    """`{name: method}`: the presets, the models (and their blended forms), the baselines."""
    from keras_inpaint import presets as preset_store
    from keras_inpaint.inference import Predictor
    from keras_inpaint.postprocess import poisson_blend as blend_into

    methods = {}
    names = [
        name for entry in presets for name in (preset_store.list() if entry == "all" else [entry])
    ]
    # (name, folder or file, also Poisson-blended) of each model to load.
    loads = [
        (preset_store.preset_dir(name).name, preset_store.preset_dir(name), False) for name in names
    ]
    loads += [
        (Path(path).parent.name if Path(path).name.isdigit() else Path(path).name, path, True)
        for path in models
    ]
    if loads:
        with Progress("loading model", len(loads), interval=0) as loading:
            for done, (name, path, blend) in enumerate(loads, start=1):
                loading.update(done, name)
                methods[name] = Predictor(path)
                if blend and poisson_blend:
                    methods[f"{name}+poisson"] = lambda image, mask, model=methods[name]: (
                        blend_into(image, model(image, mask), mask)
                    )
    if isinstance(baselines, str):
        baselines = baselines.split(",")
    for baseline in filter(None, (b.strip() for b in baselines)):
        if baseline not in BASELINES:
            raise ValueError(f"unknown baseline {baseline!r}; choose from {sorted(BASELINES)}")
        methods[baseline] = BASELINES[baseline]
    if not methods:
        raise ValueError("nothing to evaluate: give --preset, --model and/or --baselines")
    return methods


def _input_paths(source, kind, files, masks, models):
    """The files and folders evaluate reads, by option, for the output checks."""
    inputs = [(f"--{kind}", source)] if kind in ("pairs", "photos") else []
    inputs.append(("--files", files))
    if kind == "tfds" and isinstance(masks, str | Path) and str(masks).endswith(".json"):
        inputs.append(("--masks", masks))
    if kind == "data" and Path(source).is_file():
        inputs.append(("--data", source))
    # A .keras file is read whole; a run or export folder only in known places.
    inputs += [("--model", path) for path in models if Path(path).is_file()]
    return [(what, path) for what, path in inputs if path is not None]


def _check_outputs(outputs, inputs):
    """Refuse --json / --csv / --sheet paths that are an input or each other, or unwritable.

    Checked before any image is read or model loaded, so a bad path costs nothing.
    """
    from keras_inpaint.output_files import check_output

    for option, path in outputs:
        if path:
            check_output(path, inputs, option=option)
            # Two outputs in one file would leave only the last one written.
            inputs.append((option, path))


def _source(sources):
    """`(source, kind)` of the one source given among `{kind: source or None}`."""
    given = [(source, kind) for kind, source in sources.items() if source is not None]
    if len(given) != 1:
        named = ", ".join(kind for _, kind in given) or "none"
        raise ValueError(
            f"give exactly one image source of {', '.join(SOURCES)} (got {named}); e.g. "
            'run_evaluation(data="builtin_64_boxes", baselines="mean")'
        )
    return given[0]


def run_evaluation(
    *,
    pairs=None,
    photos=None,
    tfds=None,
    data=None,
    files=None,
    split="test",
    masks='{"kind": "random_boxes"}',
    size=128,
    count=64,
    seed=0,
    models=(),
    presets=(),
    baselines="mean,telea,ns",
    poisson_blend=False,
    json_path=None,
    csv_path=None,
    sheet_path=None,
    sheet_rows="worst",
    buckets=False,
):
    """Score models and baselines on the same images and holes; print and write the results.

    Prints the summary table (and, with `buckets`, the rows per hole-ratio
    bucket) on stdout, progress on stderr, and writes the files asked for.
    Output paths are checked before any image is read or model loaded.

    Args:
        pairs: a folder with images/ and masks/ (same file names, white = hole).
        photos: a folder of photographs for the presets' validation benchmark
            (256x256 centre crops, seeded free-form and box holes of 5-60%).
        tfds: a tensorflow-datasets name, with `masks`, `split`, `size` and `count`.
        data: a data spec (name or path): its held-out images, masks and size.
            Give exactly one of `pairs`, `photos`, `tfds` and `data`.
        files: with `photos`, a text file listing the photographs (e.g. val.txt).
        split: the tfds split.
        masks: for `tfds`, a mask spec: a dict, JSON text or a .json file's path.
        size: the crop side for `tfds` (and `data` specs without an image_size).
        count: images taken from `tfds` or `data`.
        seed: the mask seed for `tfds`, `data` and `photos`.
        models: export version folders, .keras files or run directories.
        presets: shipped presets' names or preset folders; "all" for every shipped one.
        baselines: names from `keras_inpaint.baselines.BASELINES`, as a list or a
            comma-separated string (telea/ns need OpenCV); empty for none.
        poisson_blend: also score each of `models` Poisson-blended.
        json_path: write the summary, buckets and per-image rows as JSON here.
        csv_path: write the per-image rows as CSV here.
        sheet_path: write a comparison sheet PNG here.
        sheet_rows: which images the sheet shows: "first", or each method's
            "worst" or "best" hole PSNR.
        buckets: also print the rows per hole-ratio bucket.

    Returns:
        the report of `keras_inpaint.evaluation.evaluate_pairs`: `{"rows",
        "summary", "buckets", "no_hole"}`.

    Example:
    ```python
    from keras_inpaint.evaluation_command import run_evaluation

    report = run_evaluation(
        data="builtin_64_boxes", count=16, models=["runs/quickstart"],
        baselines=["mean", "push_pull"], json_path="eval.json",
    )
    report["summary"]["mean"]["hole_psnr"]
    ```
    """
    source, kind = _source({"pairs": pairs, "photos": photos, "tfds": tfds, "data": data})
    outputs = [("--json", json_path), ("--csv", csv_path), ("--sheet", sheet_path)]
    _check_outputs(outputs, _input_paths(source, kind, files, masks, models))
    image_pairs = _pairs(source, kind, files, split, masks, size, count, seed)
    if all(pair.hole_ratio == 0 for pair in image_pairs):
        raise ValueError(
            f"none of the {len(image_pairs)} masks has a hole (every mask is black), so there is "
            "nothing to score; masks are white (or 1) where the image is to be filled."
        )
    methods = _methods(models, presets, baselines, poisson_blend)
    label = f"evaluating {len(methods)} method{'s' * (len(methods) > 1)}:"
    with Progress(label, len(image_pairs), "images") as progress:
        report = evaluate_pairs(
            image_pairs, methods, progress=lambda done, _: progress.update(done)
        )
    if report["no_hole"]:
        print(
            f"{len(report['no_hole'])} image(s) have no hole in their mask and are left out "
            f"of the averages: {', '.join(report['no_hole'][:5])}"
            + (" ..." if len(report["no_hole"]) > 5 else ""),
            file=sys.stderr,
        )
    print(format_summary(report))
    if buckets:
        for method, method_buckets in report["buckets"].items():
            for bucket, values in sorted(method_buckets.items()):
                cells = "".join(f"{values[m]:>11.4f}" for m in METRICS)
                print(f"{method + ' ' + bucket:<28}{cells}  ({values['count']} images)")
    write_report(report, json_path, csv_path)
    if sheet_path:
        shown = (
            image_pairs[:4]
            if sheet_rows == "first"
            else select_pairs(report, image_pairs, how=sheet_rows)
        )
        comparison_sheet(shown, methods, sheet_path, scores=report["rows"])
    return report
