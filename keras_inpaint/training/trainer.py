"""One training run: recipe + data spec -> checkpoints, logs, samples, evaluation, export.

`train()` is what `keras-inpaint train` and `train.py` call. Everything goes
into one run directory (layout in docs/ARCHITECTURE.md). Running the same
command again resumes from the last epoch backup; a finished run is not
retrained, only evaluated and exported again.

Example:
    >>> from keras_inpaint.training import train
    >>> summary = train("context_encoder/builtin_64", out_dir="runs/demo",
    ...                 epochs=1, steps_per_epoch=2)          # doctest: +SKIP
    >>> sorted(summary["evaluation"])                         # doctest: +SKIP
    ['mean_fill', 'model']
"""

import json
import os
from pathlib import Path

import keras

from keras_inpaint.baselines import mean_fill
from keras_inpaint.callbacks import AtomicCheckpoint, SampleGrid
from keras_inpaint.data import build_dataset, load_data_spec
from keras_inpaint.evaluation import compare_methods
from keras_inpaint.export import export_saved_model
from keras_inpaint.training.recipes import DEFAULT_RECIPE, build_inpainter, load_recipe


def write_json(path, payload):
    """Write JSON atomically (temporary file + rename)."""
    path = Path(path)
    partial = path.with_name(f".partial-{path.name}")
    partial.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(partial, path)


def _prepare_run_dir(out_dir, recipe, data_spec):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {"recipe": recipe, "data": data_spec}
    saved = out_dir / "recipe.json"
    if saved.is_file():
        previous = json.loads(saved.read_text())
        if previous.get("recipe", {}).get("name") != recipe["name"]:
            raise ValueError(
                f"{out_dir} holds a run of recipe {previous.get('recipe', {}).get('name')!r}, "
                f"not {recipe['name']!r}; pass another --out to start a new run."
            )
    write_json(saved, record)
    return out_dir


def _callbacks(out_dir, sample_batch):
    return [
        keras.callbacks.BackupAndRestore(
            str(out_dir / "backup"), delete_checkpoint=False, double_checkpoint=True
        ),
        AtomicCheckpoint(out_dir / "checkpoints" / "last.keras"),
        keras.callbacks.CSVLogger(str(out_dir / "metrics.csv"), append=True),
        keras.callbacks.TensorBoard(str(out_dir / "logs"), write_graph=False),
        keras.callbacks.TerminateOnNaN(),
        SampleGrid(sample_batch, out_dir / "samples", log_dir=out_dir / "logs"),
    ]


def evaluate_heldout(model, heldout):
    """Score the model and mean fill on the same held-out batches."""
    methods = {
        "model": lambda masked_image, mask: model((masked_image, mask), training=False),
        "mean_fill": mean_fill,
    }
    return compare_methods(methods, heldout)


def train(
    recipe=DEFAULT_RECIPE,
    data=None,
    out_dir=None,
    epochs=None,
    steps_per_epoch=None,
    batch_size=None,
    seed=0,
    export=True,
    verbose="auto",
):
    """Train a recipe and write a complete run directory.

    Args:
        recipe: recipe name or path, or a recipe dict.
        data: data spec name or path overriding the recipe's `data`.
        out_dir: run directory (default `runs/<recipe name>`).
        epochs, steps_per_epoch, batch_size: override the recipe's training section.
        seed: seeds weights, crops and masks.
        export: write the SavedModel under `<out_dir>/export/`.
        verbose: passed to `fit` (progress bar by default).

    Returns:
        dict with `out_dir`, `history`, `evaluation` (held-out metrics of the
        model and of mean fill) and `export` (the SavedModel path or None).
    """
    recipe = load_recipe(recipe) if not isinstance(recipe, dict) else recipe
    data_spec = load_data_spec(data or recipe["data"])
    settings = dict(recipe["training"])
    for key, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if value is not None:
            settings[key] = value
    if batch_size is not None:
        settings["batch_size"] = batch_size
    out_dir = _prepare_run_dir(out_dir or Path("runs") / recipe["name"], recipe, data_spec)

    keras.utils.set_random_seed(seed)
    model = build_inpainter(recipe)
    size = recipe["image_size"]
    train_batches = build_dataset(data_spec, size, settings["batch_size"], "train", seed=seed)
    heldout = build_dataset(data_spec, size, settings["batch_size"], "heldout", seed=seed)
    heldout = heldout.take(settings.get("validation_batches", 4)).cache()

    history = model.fit(
        train_batches,
        epochs=settings["epochs"],
        steps_per_epoch=settings["steps_per_epoch"],
        validation_data=heldout,
        callbacks=_callbacks(out_dir, next(iter(heldout))),
        shuffle=False,  # the pipeline shuffles; Keras cannot shuffle a tf.data.Dataset
        verbose=verbose,
    )
    evaluation = evaluate_heldout(model, heldout)
    write_json(out_dir / "evaluation.json", evaluation)
    export_path = None
    if export:
        short_name = recipe["name"].split("/")[-1]
        export_path = export_saved_model(model, out_dir / "export", name=short_name)
    return {
        "out_dir": str(out_dir),
        "history": history.history,
        "evaluation": evaluation,
        "export": str(export_path) if export_path else None,
    }
