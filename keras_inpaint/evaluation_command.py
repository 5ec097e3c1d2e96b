"""`keras-inpaint evaluate`: models and baselines on the same images and holes, one table.

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


def _mask_spec(text):
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


def _pairs(args):
    if args.pairs:
        return load_pairs(args.pairs)
    if args.photos:
        from keras_inpaint.photo_benchmark import benchmark_pairs

        return benchmark_pairs(args.photos, args.files, seed=args.seed)
    if args.tfds:
        source = {"type": "tfds", "name": args.tfds, "heldout_split": args.split}
        return dataset_pairs(source, _mask_spec(args.masks), args.size, args.count, args.seed)
    from keras_inpaint.data import build_dataset, load_data_spec
    from keras_inpaint.images import model_to_uint8

    spec = load_data_spec(args.data)
    batches = build_dataset(spec, spec.get("image_size", args.size), 16, split="heldout")
    pairs = []
    for (_, mask), image in batches:
        for one_image, one_mask in zip(model_to_uint8(image).numpy(), mask.numpy(), strict=True):
            pairs.append(Pair(f"{len(pairs):05d}", one_image, one_mask.astype(np.uint8)))
    return pairs[: args.count]


def _methods(args):
    from keras_inpaint import presets
    from keras_inpaint.inference import Predictor
    from keras_inpaint.postprocess import poisson_blend

    methods = {}
    names = [
        name for entry in args.preset for name in (presets.list() if entry == "all" else [entry])
    ]
    # (name, folder or file, also Poisson-blended) of each model to load.
    models = [(presets.preset_dir(name).name, presets.preset_dir(name), False) for name in names]
    models += [
        (Path(path).parent.name if Path(path).name.isdigit() else Path(path).name, path, True)
        for path in args.model
    ]
    if models:
        with Progress("loading model", len(models), interval=0) as loading:
            for done, (name, path, blend) in enumerate(models, start=1):
                loading.update(done, name)
                methods[name] = Predictor(path)
                if blend and args.poisson_blend:
                    methods[f"{name}+poisson"] = lambda image, mask, model=methods[name]: (
                        poisson_blend(image, model(image, mask), mask)
                    )
    for baseline in filter(None, (b.strip() for b in args.baselines.split(","))):
        if baseline not in BASELINES:
            raise ValueError(f"unknown baseline {baseline!r}; choose from {sorted(BASELINES)}")
        methods[baseline] = BASELINES[baseline]
    if not methods:
        raise ValueError("nothing to evaluate: give --preset, --model and/or --baselines")
    return methods


def _input_paths(args):
    """The files and folders evaluate reads, by option, for the output checks."""
    inputs = [("--pairs", args.pairs), ("--photos", args.photos), ("--files", args.files)]
    if args.tfds and str(args.masks).endswith(".json"):
        inputs.append(("--masks", args.masks))
    if args.data and Path(args.data).is_file():
        inputs.append(("--data", args.data))
    # A .keras file is read whole; a run or export folder only in known places.
    inputs += [("--model", path) for path in args.model if Path(path).is_file()]
    return [(what, path) for what, path in inputs if path is not None]


def _check_outputs(args):
    """Refuse --json / --csv / --sheet paths that are an input or each other, or unwritable.

    Checked before any image is read or model loaded, so a bad path costs nothing.
    """
    from keras_inpaint.output_files import check_output

    inputs = _input_paths(args)
    for option in ("--json", "--csv", "--sheet"):
        path = getattr(args, option[2:])
        if path:
            check_output(path, inputs, option=option)
            # Two outputs in one file would leave only the last one written.
            inputs.append((option, path))


def run_evaluation(args):
    """Evaluate, print the summary (and buckets), write the requested files."""
    _check_outputs(args)
    pairs = _pairs(args)
    if all(pair.hole_ratio == 0 for pair in pairs):
        raise ValueError(
            f"none of the {len(pairs)} masks has a hole (every mask is black), so there is "
            "nothing to score; masks are white (or 1) where the image is to be filled."
        )
    methods = _methods(args)
    label = f"evaluating {len(methods)} method{'s' * (len(methods) > 1)}:"
    with Progress(label, len(pairs), "images") as progress:
        report = evaluate_pairs(pairs, methods, progress=lambda done, _: progress.update(done))
    if report["no_hole"]:
        print(
            f"{len(report['no_hole'])} image(s) have no hole in their mask and are left out "
            f"of the averages: {', '.join(report['no_hole'][:5])}"
            + (" ..." if len(report["no_hole"]) > 5 else ""),
            file=sys.stderr,
        )
    print(format_summary(report))
    if args.buckets:
        for method, buckets in report["buckets"].items():
            for bucket, values in sorted(buckets.items()):
                cells = "".join(f"{values[m]:>11.4f}" for m in METRICS)
                print(f"{method + ' ' + bucket:<28}{cells}  ({values['count']} images)")
    write_report(report, args.json, args.csv)
    if args.sheet:
        shown = (
            pairs[:4]
            if args.sheet_rows == "first"
            else select_pairs(report, pairs, how=args.sheet_rows)
        )
        comparison_sheet(shown, methods, args.sheet, scores=report["rows"])
    return report
