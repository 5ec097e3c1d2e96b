"""The `keras-inpaint` command line: train, export, inpaint, evaluate, serve, zoo.

Each sub-command is a thin layer over one library call, so `train.py` and
`export.py` at the repository root and notebooks call the same code.

Example:
    $ keras-inpaint train --out runs/quickstart
    $ keras-inpaint export runs/quickstart --base exports
    $ keras-inpaint inpaint --model exports/quickstart/1 --image in.png --mask hole.png \
        --out out.png
    $ keras-inpaint evaluate --data builtin_64_boxes --model exports/quickstart/1 --sheet s.png
    $ keras-inpaint serve --model-dir exports/quickstart
    $ keras-inpaint zoo --json

Errors in the input (a missing file, a corrupt image, an unknown recipe...)
end the command with one line on stderr, `keras-inpaint <command>: error:
<problem and fix>`, and exit status 2; an unexpected failure prints one
line too, with exit status 1. `keras-inpaint --debug <command> ...` (or
`KERAS_INPAINT_DEBUG=1`) shows the Python traceback instead.

TensorFlow's C++ log lines are kept quiet: `TF_CPP_MIN_LOG_LEVEL` is 2
unless already set, and the lines TensorFlow writes regardless (the absl
and oneDNN notices at import, "Could not find cuda drivers", `failed call
to cuInit` without a GPU driver, GLCIC's oneDNN DT_INT64 notice, PEPSI's
remapper failure) are filtered out of stderr by `keras_inpaint.tf_log_filter`;
every other line, TensorFlow's real errors included, still shows. `--debug`
(or `KERAS_INPAINT_DEBUG=1`) shows all of TensorFlow's logs too.
"""

import argparse
import os
import sys
from pathlib import Path

# Both modules import no TensorFlow, so `--help` stays fast.
from keras_inpaint.contract import DEFAULT_MAX_SIDE
from keras_inpaint.default_recipe import DEFAULT_RECIPE, EXPORT_PRECISIONS, PRECISIONS
from keras_inpaint.tf_log_filter import hide_tensorflow_noise


def _train(args):
    from keras_inpaint.training import train

    summary = train(
        recipe=args.recipe,
        data=args.data,
        out_dir=args.out,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        seed=args.seed,
        export=not args.no_export,
        backup_every_steps=args.backup_every_steps,
        backup_every_seconds=args.backup_every_seconds,
        data_dir=args.data_dir,
        files=args.files,
        heldout_files=args.heldout_files,
        init_preset=args.init_preset,
        deterministic=args.deterministic,
        precision=args.precision,
        jit_compile=args.jit_compile,
        masks=args.masks,
        distribute=args.distribute,
    )
    model, baseline = summary["evaluation"]["model"], summary["evaluation"]["mean_fill"]
    print(f"run directory: {summary['out_dir']}")
    if summary["export"]:
        print(f"SavedModel:    {summary['export']}")
    print("held-out           model   mean fill")
    for key in ("hole_psnr", "psnr", "hole_ssim", "hole_l1"):
        print(f"{key:<15} {model[key]:>8.3f}   {baseline[key]:>9.3f}")
    gain = model["hole_psnr"] - baseline["hole_psnr"]
    verdict = "beats" if gain > 0 else "falls short of"
    print(
        f"hole PSNR: model {model['hole_psnr']:.2f} dB {verdict} mean fill "
        f"{baseline['hole_psnr']:.2f} dB by {abs(gain):.2f} dB"
    )


def _export(args):
    from keras_inpaint.export import (
        check_model_name,
        export_litert,
        export_name,
        export_onnx,
        export_saved_model,
        numbered_versions,
    )
    from keras_inpaint.export.precision import with_precision
    from keras_inpaint.inference import load_model

    if args.format != "saved_model" and args.max_side != DEFAULT_MAX_SIDE:
        raise ValueError(
            "--max-side applies to --format saved_model only: the ONNX and LiteRT models keep "
            "no size limit"
        )
    if args.format != "saved_model" and args.precision != "float32":
        raise ValueError(
            f"--precision {args.precision} applies to --format saved_model only: the ONNX and "
            "LiteRT exports compute in float32"
        )
    name = check_model_name(args.name) if args.name is not None else export_name(args.source)
    # Loaded here so that a missing or corrupt source gets a message naming the fix.
    model = with_precision(load_model(args.source), args.precision)
    print(f"exporting {args.source} as {name} under {args.base} ...", file=sys.stderr)
    earlier = numbered_versions(Path(args.base) / name)
    if args.format in ("onnx", "litert"):
        export_file = export_onnx if args.format == "onnx" else export_litert
        path = export_file(model, args.base, name=name, version=args.version)
        version_dir = path.parent
    else:
        path = export_saved_model(
            model, args.base, name=name, version=args.version, max_side=args.max_side
        )
        version_dir = path
    if earlier:
        # Exporting the same source twice is easy to do by accident; never do it silently.
        print(_earlier_versions_note(version_dir, earlier), file=sys.stderr)
    print(path)


def _earlier_versions_note(path, earlier):
    """The stderr line saying a new version was written beside earlier ones."""
    listed = ", ".join(str(version) for version in earlier)
    plural = "s" * (len(earlier) > 1)
    return (
        f"wrote new version {path.name} ({path}); version{plural} {listed} already "
        f"existed under {path.parent} and {'are' if plural else 'is'} kept (TF Serving "
        "serves the highest); delete a version folder you do not want."
    )


def _inpaint(args):
    from keras_inpaint import presets
    from keras_inpaint.inference import inpaint_files

    if args.model is not None and args.preset is not None:
        raise ValueError("give --model or --preset, not both")
    model = args.model or presets.preset_dir(args.preset or presets.default_name())
    inpaint_files(model, args.image, args.mask, args.out, blend=args.poisson_blend)
    print(args.out)


def _evaluate(args):
    from keras_inpaint.evaluation_command import run_evaluation

    run_evaluation(
        pairs=args.pairs,
        photos=args.photos,
        tfds=args.tfds,
        data=args.data,
        files=args.files,
        split=args.split,
        masks=args.masks,
        size=args.size,
        count=args.count,
        seed=args.seed,
        models=args.model,
        presets=args.preset,
        baselines=args.baselines,
        poisson_blend=args.poisson_blend,
        json_path=args.json,
        csv_path=args.csv,
        sheet_path=args.sheet,
        sheet_rows=args.sheet_rows,
        buckets=args.buckets,
    )


def _serve(args):
    try:
        from keras_inpaint.serving.server import serve
    except ModuleNotFoundError as error:
        raise ValueError(
            f"the server needs the [serve] extra ({error}): "
            'python -m pip install "keras-inpaint[serve]"'
        ) from None

    model_dirs = list(args.model_dir or [])
    if args.preset:
        model_dirs += _export_presets(args.preset)
    if not model_dirs:
        raise ValueError("give at least one --model-dir or --preset to serve")
    serve(
        model_dirs,
        host=args.host,
        port=args.port,
        max_request_bytes=args.max_request_bytes,
        timeout=args.timeout,
        request_read_timeout=args.request_read_timeout,
        max_header_bytes=args.max_header_bytes,
        max_connections=args.max_connections,
        workers=args.workers,
        max_batch=args.max_batch_size,
        max_pixels=args.max_pixels,
        max_queue=args.max_queue,
        grpc_port=args.grpc_port,
    )


def _export_presets(names):
    """Export presets into a fresh temporary base folder; their model folders, to serve."""
    import tempfile

    from keras_inpaint import presets
    from keras_inpaint.export import export_saved_model

    base = Path(tempfile.mkdtemp(prefix="keras-inpaint-presets-"))
    folders = []
    for name in names:
        model = presets.load_inpainter(name)
        version = export_saved_model(model, base, name=model.name)
        print(f"preset {name}: exported to {version}", file=sys.stderr)
        folders.append(str(Path(version).parent))
    return folders


def _preset(args):
    import json

    from keras_inpaint.presets.publish import publish_preset

    training_data = None
    if args.training_data:
        path = Path(args.training_data)
        if not path.is_file():
            raise FileNotFoundError(f"--training-data file {path} does not exist.")
        training_data = json.loads(path.read_text())
    folder = publish_preset(
        args.run,
        args.name,
        args.out,
        photos=args.photos,
        files=args.files,
        description=args.description,
        training_data=training_data,
        default=args.default,
    )
    print(folder)


def _zoo(args):
    from keras_inpaint.zoo import (
        format_presets,
        format_table,
        preset_entries,
        zoo_entries,
        zoo_json,
    )

    entries, presets = zoo_entries(), preset_entries()
    if args.json:
        print(zoo_json({"recipes": entries, "presets": presets}))
        return
    print(format_table(entries))
    print()
    print("presets (validation: 256x256 photo benchmark, whole-image PSNR dB / SSIM)")
    print(format_presets(presets))


def positive_int(text):
    """argparse type: an integer >= 1, with a message naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def positive_float(text):
    """argparse type: a number > 0, with a message naming the value."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} must be more than 0")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-inpaint", description="Train, export and run the keras-inpaint model zoo."
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=os.environ.get("KERAS_INPAINT_DEBUG", "") not in ("", "0"),
        help="show Python tracebacks instead of one-line errors, and all of TensorFlow's "
        "log lines (or KERAS_INPAINT_DEBUG=1)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a recipe with model.fit")
    train.add_argument(
        "--recipe",
        help="recipe name (see `keras-inpaint zoo`) or path to a recipe .json (default "
        f"{DEFAULT_RECIPE}, or with --init-preset the preset's own recipe)",
    )
    train.add_argument(
        "--init-preset",
        help="fine-tune a preset: start the generator from its weights (name or folder)",
    )
    train.add_argument("--data", help="data spec name under data_pipelines/ or path to a .json")
    train.add_argument(
        "--data-dir",
        help="train on the images in this folder (the data spec's masks, size and "
        "augmentation are kept)",
    )
    train.add_argument(
        "--files",
        help="text file listing the training images, one path a line, relative to --data-dir",
    )
    train.add_argument(
        "--heldout-files",
        help="text file listing the held-out images, relative to --data-dir "
        "(default: evaluate on the training images)",
    )
    train.add_argument(
        "--out",
        help="run directory (default runs/<recipe name>); "
        "running again with the same --out resumes (a finished run is not trained again)",
    )
    train.add_argument(
        "--epochs",
        type=positive_int,
        help="epochs in all, counting those a resumed run has done (default: the recipe's "
        f"training.epochs, 8 for {DEFAULT_RECIPE}); more than a finished run's "
        "trains it further",
    )
    train.add_argument(
        "--steps-per-epoch",
        type=positive_int,
        help="training steps (batches) per epoch (default: the recipe's "
        f"training.steps_per_epoch, 100 for {DEFAULT_RECIPE})",
    )
    train.add_argument(
        "--batch-size",
        type=positive_int,
        help="images per training step (default: the recipe's training.batch_size, 32 for "
        f"{DEFAULT_RECIPE})",
    )
    train.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the weights, the crops and the holes (default %(default)s)",
    )
    train.add_argument(
        "--deterministic",
        action="store_true",
        help="op determinism and one inter-op thread: the same --seed then gives the same "
        "numbers on the same machine and TensorFlow build, for every recipe (steps up to 18%% "
        "slower on 2 cores, see benchmarks/RESULTS.md)",
    )
    train.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="the Keras dtype policy to build and train the networks under (default: the "
        "recipe's training.precision, else float32); auto: mixed_bfloat16 where the CPU or "
        "GPU has bfloat16 arithmetic (AVX-512 BF16, AMX, Ampere or later), else float32; "
        "mixed_float16 scales the loss dynamically; weights, losses and the exported model's "
        "uint8 interface stay as in float32; a run resumes under the policy it started under",
    )
    train.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compile the training step with XLA, or not with --no-jit-compile (default: the "
        "recipe's training.jit_compile, else off)",
    )
    train.add_argument(
        "--masks",
        choices=("pipeline", "step"),
        help="draw the training masks in the input pipeline or inside the training step, on "
        "the device that runs it (default: the recipe's training.masks, else step with a GPU "
        "and pipeline without)",
    )
    train.add_argument(
        "--distribute",
        choices=("mirrored",),
        help="mirrored: train data-parallel over the visible GPUs of this machine "
        "(MirroredStrategy; --batch-size is the global batch, a multiple of the GPU count); "
        "default: one device",
    )
    train.add_argument("--no-export", action="store_true", help="skip the SavedModel export")
    train.add_argument(
        "--backup-every-steps",
        type=positive_int,
        help="back the whole training state up every N steps (default: a tenth of an epoch, "
        "at most once a minute)",
    )
    train.add_argument(
        "--backup-every-seconds",
        type=positive_float,
        help="a backup also waits this many seconds after the last one (with "
        "--backup-every-steps: both must have passed)",
    )
    train.set_defaults(handler=_train)

    export = commands.add_parser("export", help="export a run or .keras file for TF Serving")
    export.add_argument(
        "source", help="training run directory, .keras file, or a preset's name or folder"
    )
    export.add_argument(
        "--base", required=True, help="base folder: <base>/<name>/<version>/ is written"
    )
    export.add_argument(
        "--name",
        help="model name (default: the run directory's name, the .keras file's stem or the "
        "preset's name)",
    )
    export.add_argument(
        "--version", type=positive_int, help="version, 1 or more (default: next free)"
    )
    export.add_argument(
        "--max-side",
        type=positive_int,
        default=DEFAULT_MAX_SIDE,
        help="largest image side in pixels the export accepts (default %(default)s); "
        "larger requests get an error (saved_model only)",
    )
    export.add_argument(
        "--format",
        choices=("saved_model", "onnx", "litert"),
        default="saved_model",
        help="saved_model (default: TF Serving, both signatures), onnx (model.onnx for "
        "onnxruntime; needs the [onnx] extra) or litert (model.tflite for a LiteRT "
        "interpreter); give onnx and litert a --base folder of their own",
    )
    export.add_argument(
        "--precision",
        choices=EXPORT_PRECISIONS,
        default="float32",
        help="the generator's dtype policy (saved_model only; default %(default)s): "
        "mixed_bfloat16 ran the presets 1.65-3.4x faster on a CPU with bfloat16 instructions; "
        "slower on others; requests and answers stay uint8",
    )
    export.set_defaults(handler=_export)

    inpaint = commands.add_parser("inpaint", help="fill the hole of one image file")
    inpaint.add_argument("--model", help="export version folder, .keras file or run directory")
    inpaint.add_argument(
        "--preset",
        help="a shipped preset's name (`keras-inpaint zoo` lists them) or a preset folder; "
        "without --model or --preset the default preset fills the hole",
    )
    inpaint.add_argument("--image", required=True, help="input image (PNG/JPEG/BMP)")
    inpaint.add_argument("--mask", required=True, help="mask image, white = hole")
    inpaint.add_argument("--out", required=True, help="output PNG")
    inpaint.add_argument(
        "--poisson-blend",
        action="store_true",
        help="blend the filled region into its surroundings (Poisson image editing, "
        "GLCIC's post-processing)",
    )
    inpaint.set_defaults(handler=_inpaint)

    evaluate = commands.add_parser(
        "evaluate", help="score models and classical baselines on the same images and holes"
    )
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--pairs", help="folder with images/ and masks/ (same file names, white = hole)"
    )
    source.add_argument("--tfds", help="a tensorflow-datasets name, with --masks and --split")
    source.add_argument(
        "--data", help="a data spec (name or path): its held-out images, masks and size"
    )
    source.add_argument(
        "--photos",
        help="a folder of photographs for the presets' validation benchmark: 256x256 "
        "centre crops with seeded free-form and box holes of 5-60%% (with --files)",
    )
    evaluate.add_argument(
        "--files", help="with --photos: text file listing the photographs (e.g. val.txt)"
    )
    evaluate.add_argument("--split", default="test", help="tfds split (default %(default)s)")
    evaluate.add_argument(
        "--masks",
        default='{"kind": "random_boxes"}',
        help="mask spec as JSON or a .json file, for --tfds (default %(default)s)",
    )
    evaluate.add_argument("--size", type=positive_int, default=128, help="crop side for --tfds")
    evaluate.add_argument(
        "--count", type=positive_int, default=64, help="images for --tfds / --data"
    )
    evaluate.add_argument("--seed", type=int, default=0, help="mask seed for --tfds / --data")
    evaluate.add_argument(
        "--model",
        action="append",
        default=[],
        help="export version folder, .keras file or run directory; repeat for several",
    )
    evaluate.add_argument(
        "--preset",
        action="append",
        default=[],
        help="a shipped preset's name or a preset folder; repeat for several, 'all' for "
        "every shipped preset",
    )
    evaluate.add_argument(
        "--baselines",
        default="mean,telea,ns",
        help="comma-separated from mean, push_pull, telea, ns, biharmonic (telea/ns need "
        "OpenCV); '' for none",
    )
    evaluate.add_argument(
        "--poisson-blend", action="store_true", help="also score each model Poisson-blended"
    )
    evaluate.add_argument("--json", help="write summary, buckets and per-image rows as JSON")
    evaluate.add_argument("--csv", help="write per-image rows as CSV")
    evaluate.add_argument("--sheet", help="write a comparison sheet PNG")
    evaluate.add_argument(
        "--sheet-rows",
        default="worst",
        choices=("first", "worst", "best"),
        help="which images the sheet shows (default: each method's worst hole PSNR)",
    )
    evaluate.add_argument(
        "--buckets", action="store_true", help="also print rows per hole-ratio bucket"
    )
    evaluate.set_defaults(handler=_evaluate)

    serve = commands.add_parser(
        "serve", help="serve exports over TF Serving's REST API (needs the [serve] extra)"
    )
    serve.add_argument(
        "--preset",
        action="append",
        help="serve a shipped preset (by name) or a preset folder, exported on start; "
        "repeat for several",
    )
    serve.add_argument(
        "--model-dir",
        action="append",
        help="model folder <base>/<name> of an export; its highest version is served as "
        "<name>. Repeat to serve several models.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="127.0.0.1 (default: this machine only), 0.0.0.0 or :: (every interface)",
    )
    serve.add_argument("--port", type=int, default=8501, help="HTTP port (default 8501)")
    serve.add_argument(
        "--grpc-port",
        type=int,
        default=None,
        help="also answer TF Serving's gRPC PredictionService (Predict, GetModelMetadata) "
        "on this port of --host, e.g. 8500 (default: no gRPC)",
    )
    serve.add_argument(
        "--max-request-bytes",
        type=int,
        default=64 * 1024 * 1024,
        help="larger request bodies get HTTP 413 (default %(default)s, 64 MiB)",
    )
    serve.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds from a request's arrival to HTTP 504; a worker still running it "
        "is replaced (default %(default)s)",
    )
    serve.add_argument(
        "--request-read-timeout",
        type=float,
        default=60.0,
        help="seconds a client has to send one whole request; slower gets HTTP 408 "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--max-header-bytes",
        type=int,
        default=64 * 1024,
        help="larger request headers get HTTP 431 (default %(default)s)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=1000,
        help="open connections at most; more get HTTP 503 (default %(default)s)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="inference worker processes per model (default: one per core, as many as "
        "memory holds at 2 GiB each, at most 4 in all)",
    )
    serve.add_argument(
        "--max-batch-size",
        type=int,
        default=32,
        help="images per request at most; more get HTTP 413 (default %(default)s)",
    )
    serve.add_argument(
        "--max-pixels",
        type=int,
        # One image at the export's default largest side.
        default=DEFAULT_MAX_SIDE * DEFAULT_MAX_SIDE,
        help="pixels per request at most (height x width summed over its images, read "
        "from the file headers for PNG/JPEG); more get HTTP 413 (default %(default)s)",
    )
    serve.add_argument(
        "--max-queue",
        type=int,
        default=64,
        help="requests per model that may wait for a worker; more get HTTP 503 with "
        "Retry-After (default %(default)s)",
    )
    serve.set_defaults(handler=_serve)

    preset = commands.add_parser(
        "preset", help="make a preset (weights, metadata, model card) from a training run"
    )
    preset.add_argument("run", help="a finished training run directory")
    preset.add_argument("--name", required=True, help="the preset's name (one folder name)")
    preset.add_argument("--out", required=True, help="folder to create the preset in")
    preset.add_argument(
        "--photos", help="validation photographs: score the preset on the photo benchmark"
    )
    preset.add_argument("--files", help="with --photos: list of the photographs (val.txt)")
    preset.add_argument("--description", default="", help="a paragraph for the model card")
    preset.add_argument(
        "--training-data", help="JSON file describing the training data and its licences"
    )
    preset.add_argument(
        "--default", action="store_true", help="mark it as the general default preset"
    )
    preset.set_defaults(handler=_preset)

    zoo = commands.add_parser("zoo", help="list the recipes and their parameter counts")
    zoo.add_argument("--json", action="store_true", help="machine-readable output")
    zoo.set_defaults(handler=_zoo)
    return parser


def _is_input_error(error):
    if isinstance(error, (ValueError, OSError, ImportError, RuntimeError, KeyError)):
        return True
    tensorflow = sys.modules.get("tensorflow")
    return tensorflow is not None and isinstance(error, tensorflow.errors.OpError)


def _one_line(error):
    """The error's message on one line (TensorFlow's without node names and stacks)."""
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None and isinstance(error, tensorflow.errors.OpError):
        from keras_inpaint.op_errors import op_error_message

        text = op_error_message(error)
    elif isinstance(error, KeyError):
        text = f"missing key {error.args[0]!r}" if error.args else "missing key"
    else:
        text = str(error)
    return " ".join(text.split()) or type(error).__name__


def main(argv=None):
    """Run one sub-command; returns the exit status (0, 1 unexpected failure, 2 bad input)."""
    args = build_parser().parse_args(argv)
    if args.debug:
        args.handler(args)
        return 0
    # TensorFlow's C++ start-up chatter hides the progress bars and looks like failure.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    hide_tensorflow_noise()
    try:
        args.handler(args)
    except KeyboardInterrupt:
        print(f"keras-inpaint {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if _is_input_error(error):
            print(f"keras-inpaint {args.command}: error: {_one_line(error)}", file=sys.stderr)
            return 2
        print(
            f"keras-inpaint {args.command}: unexpected error ({type(error).__name__}: "
            f"{_one_line(error)}); run again with --debug for the traceback and report it.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
