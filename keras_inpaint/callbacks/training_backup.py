"""Back up the whole training state every few steps and seconds, so a killed run loses little.

Keras's `BackupAndRestore` resumes at the start of the interrupted epoch
(it records the batch but does not use it) and writes its files in place.
`TrainingBackup` keeps complete, atomically published snapshots under
`<backup_dir>/step-<NNN>/` (weights with the optimizers' state and the step
counter, plus `state.json`: epoch, batch within the epoch, metric
accumulators), so `keras_inpaint.training.train` restarts mid-epoch at the
saved step.

Only healthy states are published: a mid-epoch snapshot is written to a
hidden folder and renamed into place only after the next batch's losses came
out finite, and an epoch-end snapshot only when the weights and every logged
loss (validation included) are finite. A SIGKILL during a save leaves a
hidden `.partial-*` folder that the next run deletes.

When a mid-epoch snapshot is due: after at least `every_steps` steps *and*
at least `every_seconds` seconds since the previous snapshot (a condition
left at None does not apply; `every_seconds=0` backs up by steps only).
Requiring both bounds the cost of the backups by time whatever a step
costs (a 56 MB snapshot every 60 s is under 1 % of a run even when a step
takes 0.3 s), and bounds what a kill loses by the larger of the two: at
most `max(every_steps steps, every_seconds seconds)` of training, plus
the step that was running. Every epoch end is snapshotted as well. A
snapshot whose state (step counter, epoch, step within the epoch, metric
accumulators, epoch logs) equals the newest published or restored one is
not written again: the weights only change with the step counter, so the
snapshot on disk already holds it.

An epoch's end is committed by its snapshot: it is published before any
other file of that epoch end is written (checkpoint, `metrics.csv` row,
sample grid, TensorBoard scalars) and holds the epoch's logs, and
`EpochEndDone` marks it done once they all are. A run killed in between
resumes at the epoch's end and, finding no mark, writes those files again
from the snapshot (`keras_inpaint.training.train`); the restored weights
are the epoch-end ones, so they come out as they would have.

Example:
    >>> from keras_inpaint.callbacks import TrainingBackup
    >>> backup = TrainingBackup("runs/demo/backup", every_steps=50, every_seconds=60)
"""

import json
import logging
import os
import re
import shutil
import time
import uuid
from pathlib import Path

import keras

from keras_inpaint.callbacks.divergence_guard import global_step, non_finite_losses, safe_to_save
from keras_inpaint.output_files import write_text

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "training.weights.h5"
STATE_FILE = "state.json"
# In an epoch-end snapshot once the epoch end's other files are written.
DONE_FILE = "epoch_end_done"


def _fsync_tree(folder):
    for path in sorted(Path(folder).iterdir()):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _plain(value):
    """A log value as JSON can hold it (a float, or a list for a non-scalar)."""
    array = keras.ops.convert_to_numpy(value)
    return array.item() if array.ndim == 0 else array.tolist()


class TrainingBackup(keras.callbacks.Callback):
    """Atomic step-level snapshots of a training run, and their restore.

    Args:
        backup_dir: folder of the snapshots (owned by this callback).
        every_steps: a mid-epoch snapshot needs at least this many training
            steps since the last one; None for no step condition.
        every_seconds: a mid-epoch snapshot also needs at least this many
            seconds since the last one (checked after each step); None or 0
            for no time condition (snapshots by steps only). With both None
            only epoch ends are snapshotted.
        keep: snapshots kept (the newest ones); 2 leaves one to fall back on
            if the newest turns out unreadable.
        clock: seconds as a monotonic float (default `time.monotonic`).

    Every epoch end is snapshotted too. Call `restore(model)` before `fit`
    and `begin(epoch, epoch_step, metrics)` before each `fit` call.
    """

    def __init__(
        self, backup_dir, every_steps=None, every_seconds=None, keep=2, clock=time.monotonic
    ):
        super().__init__()
        if every_steps is not None and (not isinstance(every_steps, int) or every_steps < 1):
            raise ValueError(f"every_steps must be a positive int or None; got {every_steps!r}.")
        if every_seconds is not None and (
            isinstance(every_seconds, bool)
            or not isinstance(every_seconds, int | float)
            or not every_seconds >= 0
        ):
            raise ValueError(
                f"every_seconds must be a number >= 0 (0: by steps only) or None; "
                f"got {every_seconds!r}."
            )
        if keep < 1:
            raise ValueError(f"keep must be at least 1; got {keep!r}.")
        self.backup_dir = Path(backup_dir)
        self.every_steps = every_steps
        self.every_seconds = every_seconds
        self.keep = keep
        self._clock = clock
        self._epoch = 0
        self._epoch_step = 0
        self._offset = 0
        self._restore_metrics = None
        self._staged = None
        self._steps_since_save = 0
        self._last_save_time = clock()
        self._epoch_end_snapshot = None
        # The state of the newest published or restored snapshot, and its folder.
        self._saved_state = None
        self._saved_path = None

    # === Restore ===
    def snapshots(self):
        """Published snapshot folders, newest first."""
        if not self.backup_dir.is_dir():
            return []
        found = [
            child
            for child in self.backup_dir.iterdir()
            if child.is_dir() and re.fullmatch(r"step-\d+", child.name)
        ]
        return sorted(found, key=lambda child: int(child.name.split("-")[1]), reverse=True)

    def restore(self, model):
        """Load the newest readable snapshot into `model`; return its state dict or None.

        The state holds `step`, `epoch` (0-based, the epoch to continue) and
        `epoch_step` (steps of that epoch already done). Unreadable snapshots
        are skipped with a warning and the previous one is used.
        """
        self._remove_partials()
        for snapshot in self.snapshots():
            try:
                state = json.loads((snapshot / STATE_FILE).read_text())
                model.load_weights(snapshot / WEIGHTS_FILE)
            except (OSError, ValueError, KeyError) as error:
                logger.warning(
                    "backup %s is unreadable (%s); trying an older one.", snapshot, error
                )
                continue
            self._saved_state, self._saved_path = dict(state), snapshot
            state["path"] = str(snapshot)
            return state
        return None

    @staticmethod
    def epoch_end_pending(state):
        """Whether restored `state` ends an epoch whose other files may be unwritten.

        True for an epoch-end snapshot (it holds the epoch's logs) without
        the mark `EpochEndDone` leaves once those files are written.
        """
        if state is None or "epoch_logs" not in state or int(state["epoch_step"]) != 0:
            return False
        return not (Path(state["path"]) / DONE_FILE).is_file()

    def mark_epoch_end_done(self, snapshot=None):
        """Mark an epoch-end snapshot (default: the one this run published last) as done."""
        snapshot = self._epoch_end_snapshot if snapshot is None else Path(snapshot)
        if snapshot is None or not snapshot.is_dir():
            return
        write_text(
            snapshot / DONE_FILE,
            "the epoch end's checkpoint, metrics row and samples are written\n",
        )
        self._epoch_end_snapshot = None

    def latest(self):
        """`(path, step)` of the newest published snapshot, or None."""
        snapshots = self.snapshots()
        if not snapshots:
            return None
        return str(snapshots[0]), int(snapshots[0].name.split("-")[1])

    def begin(self, epoch, epoch_step=0, metrics=None):
        """Say where the next `fit` starts: `epoch` (0-based) after `epoch_step` of its steps.

        `metrics`, from a restored state, refills the metric accumulators at
        the start of that epoch so its logged averages cover the whole epoch.
        """
        self._epoch = epoch
        self._offset = epoch_step
        self._epoch_step = epoch_step
        self._restore_metrics = metrics if epoch_step > 0 else None

    # === Callback hooks ===
    def on_train_begin(self, logs=None):
        self._steps_since_save = 0
        self._last_save_time = self._clock()

    def on_epoch_begin(self, epoch, logs=None):
        if epoch != self._epoch:
            self._offset = 0
            self._restore_metrics = None
        self._epoch = epoch
        self._epoch_step = self._offset
        if self._restore_metrics is not None:
            values = self._restore_metrics
            variables = self.model.metrics_variables
            if len(values) == len(variables):
                for variable, value in zip(variables, values, strict=True):
                    variable.assign(value)
            self._restore_metrics = None

    def on_train_batch_end(self, batch, logs=None):
        self._epoch_step = self._offset + batch + 1
        self._steps_since_save += 1
        if self._staged is not None:
            # The staged state produced this batch's losses: publish it if they are finite.
            staged, self._staged = self._staged, None
            if non_finite_losses(logs):
                shutil.rmtree(staged[0], ignore_errors=True)
            else:
                self._publish(*staged)
        # The epoch-end snapshot follows the last batch; it also records the epoch's end.
        steps = (self.params or {}).get("steps")
        last_batch = steps is not None and batch + 1 >= steps
        if self._due() and not last_batch and not self.model.stop_training:
            self._staged = self._write_if_changed(self._epoch, self._epoch_step)

    def on_epoch_end(self, epoch, logs=None):
        self._discard_staged()
        self._offset = 0
        self._epoch_end_snapshot = None
        if safe_to_save(self.model, logs):
            staged = self._write_if_changed(epoch + 1, 0, logs or {})
            # Unchanged since the newest snapshot: that one records this epoch's end.
            self._epoch_end_snapshot = (
                self._saved_path if staged is None else self._publish(*staged)
            )
        else:
            logger.warning(
                "epoch %d ended with non-finite losses or weights: no backup written; "
                "the newest backup is %s.",
                epoch + 1,
                self.latest(),
            )

    def on_train_end(self, logs=None):
        self._discard_staged()

    # === Writing ===
    def _due(self):
        """Whether a mid-epoch snapshot is due: every condition that is set holds."""
        if self.every_steps is None and self.every_seconds is None:
            return False
        enough_steps = self.every_steps is None or self._steps_since_save >= self.every_steps
        enough_time = (
            self.every_seconds is None or self._clock() - self._last_save_time >= self.every_seconds
        )
        return enough_steps and enough_time

    def _state(self, epoch, epoch_step, epoch_logs):
        metrics = [
            keras.ops.convert_to_numpy(variable).tolist()
            for variable in self.model.metrics_variables
        ]
        state = {
            "step": global_step(self.model),
            "epoch": epoch,
            "epoch_step": epoch_step,
            "metrics": metrics,
        }
        if epoch_logs is not None:
            # What the epoch end's files are written from, again after a kill.
            state["epoch_logs"] = {name: _plain(value) for name, value in epoch_logs.items()}
        return state

    def _write_if_changed(self, epoch, epoch_step, epoch_logs=None):
        """Stage a snapshot: `(folder, step, state)`, or None when the newest one holds it."""
        self._steps_since_save = 0
        self._last_save_time = self._clock()
        # Through JSON, so that it compares equal to a restored state.
        state = json.loads(json.dumps(self._state(epoch, epoch_step, epoch_logs)))
        if state == self._saved_state and self._saved_path.is_dir():
            return None
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        staging = self.backup_dir / f".partial-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            self.model.save_weights(staging / WEIGHTS_FILE)
            (staging / STATE_FILE).write_text(json.dumps(state))
            _fsync_tree(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging, state["step"], state

    def _publish(self, staging, step, state):
        target = self.backup_dir / f"step-{step:012d}"
        if target.exists():
            shutil.rmtree(target)
        os.rename(staging, target)
        directory = os.open(self.backup_dir, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        for old in self.snapshots()[self.keep :]:
            shutil.rmtree(old, ignore_errors=True)
        self._saved_state, self._saved_path = state, target
        return target

    def _discard_staged(self):
        if self._staged is not None:
            shutil.rmtree(self._staged[0], ignore_errors=True)
            self._staged = None

    def _remove_partials(self):
        if self.backup_dir.is_dir():
            for child in self.backup_dir.glob(".partial-*"):
                shutil.rmtree(child, ignore_errors=True)


class EpochEndDone(keras.callbacks.Callback):
    """Marks the epoch's snapshot done once every other epoch-end file is written.

    Placed after the callbacks that write the epoch's files (checkpoint,
    `metrics.csv`, TensorBoard, sample grid).

    Args:
        backup: the run's `TrainingBackup`.
    """

    def __init__(self, backup):
        super().__init__()
        self.backup = backup

    def on_epoch_end(self, epoch, logs=None):
        self.backup.mark_epoch_end_done()
