"""One training run: recipe + data spec -> checkpoints, logs, samples, evaluation, export.

`train()` is what `keras-inpaint train` and `train.py` call. Everything goes
into one run directory (layout in docs/ARCHITECTURE.md).

Crashes: the whole training state (weights, both optimizers, the step counter
that drives GLCIC's phases and PEPSI's coarse weight, the epoch's metric sums)
is backed up atomically under `<run>/backup/` every tenth of an epoch but at
most once a minute (or as `backup_every_steps` steps and `backup_every_seconds`
say) and at every epoch end. Running the same command again after a crash, even
a SIGKILL mid-epoch, resumes at the last backup's step inside its epoch, with
the recipe's learning rates and a fresh seeded data order; `metrics.csv` keeps
one row per epoch. A kill at an epoch end loses nothing either: the epoch's
backup is published first, and the epoch-end files it left unwritten
(checkpoint, `metrics.csv` row, TensorBoard scalars, sample grid) are written
from that backup by the next run; every file is written whole or not at all. A
finished run (all its epochs done) is not retrained nor exported again, only
evaluated (and exported if it was killed before its export); a larger `epochs`
trains it further.

Progress goes to stderr, so that stdout keeps the results: first what is
starting (recipe, data, epochs x steps, batch size, run directory), then
`TrainingProgress`'s line per epoch (and a line redrawn during the epoch on
a terminal) instead of Keras' progress bar. Epochs are counted from 1
wherever they are shown: progress lines, `metrics.csv`, `samples/epoch_NNN.png`.

Divergence: the first NaN or Inf loss stops the run and `train` raises
`TrainingDivergedError` naming the loss, the step and the last good
checkpoint; nothing non-finite is ever written to the checkpoint or backup.

Unreadable images in a folder or TFRecord source are skipped, named once in
a warning and counted per epoch as distinct files (`skipped_images` in
`metrics.csv` and TensorBoard, details in `<run>/data_warnings.json`); a
folder with no readable image is an error naming it.

Example:
    >>> from keras_inpaint.training import train
    >>> summary = train("context_encoder/builtin_64", out_dir="runs/demo",
    ...                 epochs=1, steps_per_epoch=2)          # doctest: +SKIP
    >>> sorted(summary["evaluation"])                         # doctest: +SKIP
    ['mean_fill', 'model']
"""

import json
import logging
import sys
from pathlib import Path

import keras
import tensorflow as tf

from keras_inpaint.baselines import mean_fill
from keras_inpaint.callbacks import (
    AtomicCheckpoint,
    DivergenceGuard,
    EpochClock,
    EpochEndDone,
    MetricsCSV,
    SampleGrid,
    SkippedImagesLog,
    TrainingBackup,
    TrainingProgress,
)
from keras_inpaint.data import build_dataset, load_data_spec, with_folder
from keras_inpaint.data.sources import list_image_files, read_file_list
from keras_inpaint.evaluation import compare_methods
from keras_inpaint.export import export_name, export_saved_model, numbered_versions
from keras_inpaint.output_files import remove_partial_files, write_text
from keras_inpaint.training.recipes import (
    AUTO_PRECISION,
    DEFAULT_PRECISION,
    DEFAULT_RECIPE,
    build_inpainter,
    check_mask_place,
    check_precision,
    load_recipe,
    precision_policy,
    resolve_precision,
    validate_recipe,
)

logger = logging.getLogger(__name__)

# By default a killed run loses at most a tenth of an epoch or a minute of training.
DEFAULT_BACKUPS_PER_EPOCH = 10
# With neither interval given, a mid-epoch backup also waits this long after the last one.
DEFAULT_BACKUP_SECONDS = 60
# The distribution strategies `train(distribute=...)` and `--distribute` accept.
DISTRIBUTIONS = ("mirrored",)


class TrainingDivergedError(ValueError):
    """A loss or weight became NaN or Inf; the message names it and the last good checkpoint.

    A ValueError because the fix is a setting (learning rate) or the data.
    """


def write_json(path, payload):
    """Write JSON atomically (temporary file + rename)."""
    write_text(path, json.dumps(payload, indent=2) + "\n")


def _prepare_run_dir(out_dir, recipe, data_spec, precision, init_preset=None):
    """Create or check the run directory and record the run in its recipe.json.

    `precision` is `(asked, explicit)`: the precision asked for, and whether the
    caller asked (not the recipe). Returns the directory and the
    `(policy, reason)` the run trains under: a run with a backup keeps the
    policy it started under (see `_run_precision`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A run killed while writing a file leaves its temporary copy; the file itself is
    # whole (the old one) and is written again from the backup.
    remove_partial_files(out_dir)
    saved = out_dir / "recipe.json"
    previous = json.loads(saved.read_text()) if saved.is_file() else {}
    if previous and previous.get("recipe", {}).get("name") != recipe["name"]:
        raise ValueError(
            f"{out_dir} holds a run of recipe {previous.get('recipe', {}).get('name')!r}, "
            f"not {recipe['name']!r}; pass another --out to start a new run."
        )
    started = any((out_dir / "backup").glob("step-*"))
    recorded = previous.get("precision") if started else None
    policy, reason = _run_precision(out_dir, *precision, recorded)
    record = {"recipe": recipe, "data": data_spec, "precision": policy}
    if init_preset is not None:
        record["init_preset"] = _preset_record(init_preset)
    write_json(saved, record)
    return out_dir, (policy, reason)


def _run_precision(out_dir, asked, explicit, recorded):
    """`(policy, reason)` of a run asked to train under `asked`, started under `recorded`.

    A run that has started (`recorded`, or None) goes on under its own policy,
    so that it resumes exactly and an "auto" run moved to other hardware keeps
    its numbers; a different policy asked for explicitly is refused.
    """
    if recorded is None:
        return resolve_precision(asked)
    if explicit and asked not in (recorded, AUTO_PRECISION):
        raise ValueError(
            f"{out_dir} has trained under {recorded}; it cannot resume under {asked} (the "
            f"steps would no longer be those of one run). Resume it with --precision "
            f"{recorded} or auto, or pass another --out to start a new run under {asked}."
        )
    return recorded, "" if asked == recorded else f"the precision {out_dir} started under"


def _callbacks(out_dir, sample_batch, guard, backup, first_epoch, progress):
    # Order matters: the guard sees a NaN first; the skipped-image count and
    # the epoch's time are put into the logs before the backup stores them;
    # the backup commits the epoch end before its other files are written
    # (`_epoch_end_files`, rebuilt from it after a kill), and marks it done
    # after them; the epoch's progress line comes once everything is written.
    progress = [progress] if progress is not None else []
    return [
        guard,
        SkippedImagesLog(out_dir / "data_warnings.json"),
        EpochClock(),
        backup,
        *_epoch_end_files(out_dir, sample_batch, first_epoch),
        EpochEndDone(backup),
        *progress,
    ]


def _epoch_end_files(out_dir, sample_batch, first_epoch):
    """The callbacks that write an epoch end's files; each writes them whole, or not at all."""
    return [
        AtomicCheckpoint(out_dir / "checkpoints" / "last.keras"),
        MetricsCSV(out_dir / "metrics.csv", first_epoch=first_epoch),
        keras.callbacks.TensorBoard(str(out_dir / "logs"), write_graph=False),
        SampleGrid(sample_batch, out_dir / "samples", log_dir=out_dir / "logs"),
    ]


def _rebuild_epoch_end(callbacks, model, backup, state, log_dir):
    """Write again the files of the epoch end that `state` (a restored backup) committed.

    A kill between the backup and the mark `EpochEndDone` leaves some of
    them unwritten. The restored weights are the epoch-end ones and the
    backup holds the epoch's logs, so the checkpoint, the `metrics.csv` row
    (replaced, never added twice), the TensorBoard scalars and the sample
    grid come out as the killed run would have written them.
    """
    epoch, logs = int(state["epoch"]) - 1, state["epoch_logs"]
    logger.warning(
        "the run stopped while writing epoch %d's files: writing them again from %s",
        epoch + 1,
        state["path"],
    )
    for callback in callbacks:
        if isinstance(callback, AtomicCheckpoint | MetricsCSV | SampleGrid):
            callback.set_model(model)
            callback.on_epoch_end(epoch, dict(logs))
    _write_epoch_scalars(log_dir, epoch, logs)
    backup.mark_epoch_end_done(state["path"])


def _write_epoch_scalars(log_dir, epoch, logs):
    """An epoch's scalars where and as Keras' TensorBoard callback writes them."""
    groups = {
        "train": {name: value for name, value in logs.items() if not name.startswith("val_")},
        "validation": {name[4:]: value for name, value in logs.items() if name.startswith("val_")},
    }
    for folder, values in groups.items():
        writer = tf.summary.create_file_writer(str(Path(log_dir) / folder))
        with writer.as_default():
            for name, value in values.items():
                tf.summary.scalar(f"epoch_{name}", value, step=epoch)
        writer.close()


def _constant_learning_rates(model):
    """`[(optimizer, rate)]` for the optimizers whose learning rate is a plain number."""
    rates = []
    for optimizer in (model.g_optimizer, model.d_optimizer):
        if optimizer is None:
            continue
        if isinstance(optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            continue
        rates.append((optimizer, float(keras.ops.convert_to_numpy(optimizer.learning_rate))))
    return rates


def _resume_position(state, steps_per_epoch):
    """`(epoch, steps done in it)` to continue from, given a restored backup state."""
    if state is None:
        return 0, 0
    epoch, epoch_step = int(state["epoch"]), int(state["epoch_step"])
    if epoch_step >= steps_per_epoch:
        # The run was resumed with shorter epochs than it was saved with.
        return epoch + 1, 0
    return epoch, epoch_step


def _divergence_message(guard, out_dir, backup):
    checkpoint = out_dir / "checkpoints" / "last.keras"
    if checkpoint.is_file():
        saved = f"the last good checkpoint is {checkpoint}"
    else:
        saved = "no epoch had finished, so no checkpoint was written"
    latest = backup.latest()
    if latest is not None:
        resume = f"the backup {latest[0]} holds step {latest[1]}, where the same command resumes"
    else:
        resume = "there is no backup yet, so the same command starts over"
    return (
        f"training diverged: {guard.describe()}. Nothing non-finite was saved: {saved}; "
        f"{resume}. Fix: lower the learning rate in the recipe's 'optimizers' (a resumed "
        "run takes the recipe's learning rates), check the data for broken or extreme "
        "images, or use another --seed."
    )


def _describe_data(spec):
    """Where a data spec's training images come from, in a few words (folders: with a count)."""
    source, name = spec["source"], spec.get("name", "data spec")
    if source["type"] == "folder":
        if "files" in source:
            files = read_file_list(source["path"], source["files"])
            return f"{len(files)} images listed in {source['files']} ({name}'s masks)"
        files = list_image_files(source["path"])
        return f"{len(files)} images in {source['path']} ({name}'s masks)"
    where = {
        "builtin": "scikit-image's bundled photographs",
        "tfds": f"tensorflow-datasets {source.get('name')}",
        "tfrecord": f"TFRecord files {source.get('pattern')}",
    }
    return f"{name} ({where[source['type']]})"


def _describe_replicas(strategy):
    """`, N replicas (devices)` for a distributed run, else nothing."""
    if strategy is tf.distribute.get_strategy():
        return ""
    devices = ", ".join(strategy.extended.worker_devices)
    return f", {strategy.num_replicas_in_sync} replicas ({devices})"


def _finished_message(out_dir, done, step, epochs, exporting=False):
    """What `train` says instead of training a run that has done all its epochs."""
    if exporting:
        return (
            f"{out_dir} has finished its {done} epochs ({step} steps): not training it again; "
            "exporting it, as it has no export yet"
        )
    return (
        f"{out_dir} has finished its {done} epochs ({step} steps): not training or exporting "
        "it again.\n  results: evaluation.json, metrics.csv, samples/ and export/ in that "
        f"folder\n  to train it further, pass a larger --epochs than {epochs}; to export it "
        f"again:\n  keras-inpaint export {out_dir} --base FOLDER"
    )


def preset_recipe(init_preset):
    """The recipe (a dict) a preset was trained with, from its metadata."""
    from keras_inpaint import presets

    recipe = presets.metadata(init_preset).get("recipe")
    if not isinstance(recipe, dict):
        raise ValueError(
            f"preset {init_preset!r} records no recipe in its metadata.json; pass --recipe "
            "with a recipe whose generator is the preset's."
        )
    return recipe


def _preset_record(init_preset):
    """What a fine-tuning run started from: the preset, and the training it had had."""
    from keras_inpaint import presets

    metadata = presets.metadata(init_preset)
    return {
        "preset": str(init_preset),
        "name": metadata.get("name", presets.preset_dir(init_preset).name),
        "steps": int(metadata.get("steps", 0)) + int(metadata.get("init_steps", 0)),
        "wall_time_s": float(metadata.get("wall_time_s", 0.0))
        + float(metadata.get("init_wall_time_s", 0.0)),
        "recipe": metadata.get("recipe", {}).get("name"),
    }


def start_from_preset(generator, init_preset):
    """Copy a preset's weights into `generator`, which must have the preset's architecture."""
    from keras_inpaint import presets

    trained = presets.load(init_preset)
    shapes = [tuple(weight.shape) for weight in generator.weights]
    trained_shapes = [tuple(weight.shape) for weight in trained.weights]
    if type(trained) is not type(generator) or shapes != trained_shapes:
        raise ValueError(
            f"preset {init_preset!r} holds a {type(trained).__name__} whose weights do not fit "
            f"the recipe's {type(generator).__name__}; train with the preset's own recipe "
            "(leave out --recipe) or one with the same generator config."
        )
    generator.set_weights(trained.get_weights())


def enable_determinism():
    """Make this process's TensorFlow ops give the same results run after run, for good.

    Turns on op determinism (`tf.config.experimental.enable_op_determinism`)
    and runs ops on one inter-op thread. Op determinism alone changes nothing
    on a CPU: with several inter-op threads, oneDNN's kernels do not always sum
    in the same order, likely because TensorFlow's oneDNN thread pool runs an
    op on a single thread when the op starts on one of the pool's own threads,
    which depends on timing. Eight steps of the 128x128 photo Context Encoder
    on a folder of JPEGs, on a busy 2-core machine, gave 6 different weights in
    6 runs, and 4 in 4 with op determinism alone; 6 identical ones after this
    function. The thread count can only be set before TensorFlow's runtime
    starts: later, a warning says that the run may not repeat bit for bit.
    """
    tf.config.experimental.enable_op_determinism()
    if tf.config.threading.get_inter_op_parallelism_threads() == 1:
        return
    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        logger.warning(
            "TensorFlow was already running, with more than one inter-op thread: this run may "
            "not repeat bit for bit; start it in a fresh process (as `keras-inpaint train "
            "--deterministic` does)."
        )


def mask_place(masks, settings):
    """Where the run draws its training masks: `masks`, the recipe's, or by the devices.

    An explicit `masks` (`--masks`) wins, then the recipe's `training.masks`;
    otherwise `"step"` when TensorFlow sees a GPU (the masks are then made on
    it, inside the step) and `"pipeline"` on a CPU.
    """
    if masks is None:
        masks = settings.get("masks")
    if masks is None:
        masks = "step" if tf.config.list_physical_devices("GPU") else "pipeline"
    check_mask_place(masks)
    return masks


def distribution_strategy(distribute):
    """The `tf.distribute` strategy a run trains under: None, the default (one device).

    `"mirrored"`: `MirroredStrategy` over every visible GPU, or, without one,
    over the logical CPU devices (one, unless the process split its CPU with
    `tf.config.set_logical_device_configuration`). Each step's batch is
    split among the replicas, so the batch size must be a multiple of their
    number. One machine only: Keras 3 cannot train with
    `MultiWorkerMirroredStrategy` (keras-team/keras#20585).
    """
    if distribute is None:
        return tf.distribute.get_strategy()
    if distribute not in DISTRIBUTIONS:
        raise ValueError(
            f"distribute={distribute!r}: use one of {list(DISTRIBUTIONS)} (--distribute), or "
            "leave it out to train on one device."
        )
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def _check_replica_batch(strategy, batch_size):
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            f"batch size {batch_size} does not split evenly among {replicas} replicas: pass a "
            f"--batch-size that is a multiple of {replicas}."
        )


def _with_known_length(batches):
    """`batches` (finite, cached) with its number of batches known to tf.data.

    A folder or TFRecord source skips unreadable images, so its length is unknown
    until read, and Keras then warns at the end of each first validation pass that
    the input "ran out of data; interrupting training". Counting reads it once,
    which fills the cache the validation passes read.
    """
    if batches.cardinality() != tf.data.UNKNOWN_CARDINALITY:
        return batches
    count = batches.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1)
    return batches.apply(tf.data.experimental.assert_cardinality(count))


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
    backup_every_steps=None,
    backup_every_seconds=None,
    data_dir=None,
    files=None,
    heldout_files=None,
    init_preset=None,
    deterministic=False,
    precision=None,
    jit_compile=None,
    masks=None,
    distribute=None,
):
    """Train a recipe and write a complete run directory.

    Args:
        recipe: recipe name or path, or a recipe dict.
        data: data spec name or path overriding the recipe's `data`.
        out_dir: run directory (default `runs/<recipe name>`).
        epochs, steps_per_epoch, batch_size: override the recipe's training section.
        seed: seeds weights, crops and masks.
        export: write the SavedModel under `<out_dir>/export/` (not for a
            run that had finished all its epochs before this call).
        verbose: progress on stderr: 0 none; 2 what is starting, then one
            line per epoch; 1 or "auto" (default) also a line redrawn during
            each epoch when stderr is a terminal.
        backup_every_steps: back up the training state every this many steps
            (default: the recipe's `backup_every_steps`; with neither interval
            given, a tenth of an epoch and `DEFAULT_BACKUP_SECONDS`).
        backup_every_seconds: a mid-epoch backup also waits this many seconds
            after the last one (default: the recipe's `backup_every_seconds`;
            0: by steps only).
            Every epoch end is backed up too.
        data_dir: a folder of images to train on instead of the data spec's
            source (the spec's masks, size and augmentation are kept).
        files, heldout_files: list files (one image path a line, relative to
            `data_dir`) naming the training and held-out images.
        init_preset: a preset (name or folder) whose weights the generator
            starts from, to fine-tune it; `recipe=None` then takes the recipe
            the preset was trained with.
        deterministic: `enable_determinism()` first (op determinism, one
            inter-op thread; for the rest of the process), so that the same
            seed gives the same numbers on the same machine and TensorFlow
            build for every recipe; steps take about 20% longer on 2 cores
            (benchmarks/determinism_cost.py).
        precision: the Keras dtype policy the networks are built and trained
            under: "float32", "mixed_bfloat16" or "mixed_float16" (the latter
            with dynamic loss scaling), or "auto": mixed_bfloat16 where the
            processor has bfloat16 arithmetic (`keras_inpaint.hardware`), else
            float32. Default: the recipe's `training.precision`, else
            "float32". A run that has started resumes under the policy it
            started under (recipe.json records it); another one asked for
            here is refused. Weights stay float32, and so
            do the composite, the losses and the exported SavedModel's
            interface; the previous global policy is restored once the
            networks are built.
        jit_compile: compile the training step with XLA (default: the
            recipe's `training.jit_compile`, else False).
        masks: where the training masks are drawn: `"pipeline"` (the input
            pipeline, on the host) or `"step"` (the training step, from
            stateless seeds advanced by a draw counter that is a weight of
            the model, saved with the backups, so a resumed run continues the
            same sequence of masks). Default: the recipe's
            `training.masks`, else `"step"` with a GPU and `"pipeline"`
            without (`mask_place`). Held-out masks always come from the pipeline.
        distribute: None (one device) or `"mirrored"`: data-parallel over the
            visible GPUs (`distribution_strategy`); the batch size is the
            global one and must be a multiple of the number of replicas.

    Returns:
        dict with `out_dir`, `history`, `evaluation` (held-out metrics of the
        model and of mean fill) and `export` (the SavedModel path or None).

    Raises:
        TrainingDivergedError: a loss became NaN or Inf (the message says
            where, the last good checkpoint and the fix).
    """
    if deterministic:
        enable_determinism()
    if recipe is None:
        recipe = preset_recipe(init_preset) if init_preset is not None else DEFAULT_RECIPE
    if isinstance(recipe, dict):
        # Checked like a recipe file: its networks' sizes must agree with its image_size.
        validate_recipe(recipe)
    else:
        recipe = load_recipe(recipe)
    data_spec = load_data_spec(data or recipe["data"])
    if data_dir is not None:
        data_spec = with_folder(data_spec, data_dir, files=files, heldout_files=heldout_files)
    elif files is not None or heldout_files is not None:
        raise ValueError(
            "--files and --heldout-files name images in --data-dir: pass --data-dir too"
        )
    settings = dict(recipe["training"])
    explicit = precision is not None
    precision = settings.get("precision", DEFAULT_PRECISION) if precision is None else precision
    check_precision(precision)
    if jit_compile is None:
        jit_compile = settings.get("jit_compile", False)
    masks = mask_place(masks, settings)
    strategy = distribution_strategy(distribute)
    _check_replica_batch(strategy, settings["batch_size"] if batch_size is None else batch_size)
    for key, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if value is not None:
            settings[key] = value
    if batch_size is not None:
        settings["batch_size"] = batch_size
    if backup_every_steps is None:
        backup_every_steps = settings.get("backup_every_steps")
    if backup_every_seconds is None:
        backup_every_seconds = settings.get("backup_every_seconds")
    if backup_every_steps is None and backup_every_seconds is None:
        backup_every_steps = max(1, settings["steps_per_epoch"] // DEFAULT_BACKUPS_PER_EPOCH)
        backup_every_seconds = DEFAULT_BACKUP_SECONDS
    out_dir = out_dir or Path("runs") / recipe["name"]
    out_dir, (precision, precision_reason) = _prepare_run_dir(
        out_dir, recipe, data_spec, (precision, explicit), init_preset
    )
    keras.utils.set_random_seed(seed)
    # Layers take the global dtype policy when they are built; it is restored
    # right after, so nothing else in this process trains or exports under it.
    step_masks = data_spec["masks"] if masks == "step" else None
    with precision_policy(precision), strategy.scope():
        model = build_inpainter(
            recipe, jit_compile=jit_compile, step_masks=step_masks, mask_seed=seed
        )
    size = recipe["image_size"]
    total_epochs, steps = settings["epochs"], settings["steps_per_epoch"]
    heldout = build_dataset(data_spec, size, settings["batch_size"], "heldout", seed=seed)
    heldout = _with_known_length(heldout.take(settings.get("validation_batches", 4)).cache())
    # Said once the recipe, its losses and the data have been checked, so that a
    # bad input is a one-line error.
    if verbose:
        preset = f", from preset {init_preset}" if init_preset is not None else ""
        print(
            f"run {out_dir}: recipe {recipe['name']}{preset}\n"
            f"  data: {_describe_data(data_spec)}\n"
            f"  {settings['epochs']} epochs x {settings['steps_per_epoch']} steps, "
            f"batch size {settings['batch_size']}, seed {seed}"
            f"{_describe_replicas(model.distribute_strategy)}\n"
            f"  precision {precision}{f' ({precision_reason})' if precision_reason else ''}",
            file=sys.stderr,
            flush=True,
        )

    backup = TrainingBackup(
        out_dir / "backup", every_steps=backup_every_steps, every_seconds=backup_every_seconds
    )
    recipe_rates = _constant_learning_rates(model)
    if init_preset is not None:
        start_from_preset(model.generator, init_preset)
    state = backup.restore(model)
    epoch, epoch_step = _resume_position(state, steps)
    if state is not None and epoch >= total_epochs:
        # A run killed after its last epoch, before its export, is exported now.
        export = export and not numbered_versions(out_dir / "export" / export_name(out_dir))
        logger.warning(_finished_message(out_dir, epoch, state["step"], total_epochs, export))
    elif state is not None:
        for optimizer, rate in recipe_rates:
            optimizer.learning_rate = rate
        logger.warning(
            "resuming %s from step %d (epoch %d, after %d of its %d steps), backup %s",
            out_dir,
            state["step"],
            epoch + 1,
            epoch_step,
            steps,
            state["path"],
        )
    guard = DivergenceGuard()
    progress = TrainingProgress(total_epochs, steps, redraw=verbose != 2) if verbose else None
    callbacks = _callbacks(
        out_dir, next(iter(heldout)), guard, backup, first_epoch=epoch, progress=progress
    )
    if backup.epoch_end_pending(state):
        _rebuild_epoch_end(callbacks, model, backup, state, out_dir / "logs")

    def fit(first_epoch, epoch_steps, last_epoch):
        # A resumed run gets a data order of its own (seeded by the step), so
        # it does not replay the batches of the run's start.
        step = int(keras.ops.convert_to_numpy(model.step_counter))
        data_seed = seed if step == 0 else seed + step
        batches = build_dataset(
            data_spec, size, settings["batch_size"], "train", seed=data_seed, masks_in=masks
        )
        return model.fit(
            batches,
            initial_epoch=first_epoch,
            epochs=last_epoch,
            steps_per_epoch=epoch_steps,
            validation_data=heldout,
            callbacks=callbacks,
            shuffle=False,  # the pipeline shuffles; Keras cannot shuffle a tf.data.Dataset
            verbose=0,  # TrainingProgress shows the progress
        ).history

    history = {}
    if epoch < total_epochs and epoch_step > 0:
        # Finish the interrupted epoch with its remaining steps first.
        backup.begin(epoch, epoch_step, metrics=state.get("metrics"))
        history = fit(epoch, steps - epoch_step, epoch + 1)
        epoch += 1
    if epoch < total_epochs and guard.failure is None:
        backup.begin(epoch)
        for name, values in fit(epoch, steps, total_epochs).items():
            history[name] = history.get(name, []) + values
    if guard.failure is not None:
        raise TrainingDivergedError(_divergence_message(guard, out_dir, backup))

    evaluation = evaluate_heldout(model, heldout)
    write_json(out_dir / "evaluation.json", evaluation)
    if export and verbose:
        print(f"exporting the SavedModel under {out_dir / 'export'}", file=sys.stderr, flush=True)
    export_path = None
    if export:
        # Named like `keras-inpaint export RUN_DIR`: after the run directory.
        export_path = export_saved_model(model, out_dir / "export", name=export_name(out_dir))
    return {
        "out_dir": str(out_dir),
        "history": history,
        "evaluation": evaluation,
        "export": str(export_path) if export_path else None,
    }
