"""Training callbacks."""

from keras_inpaint.callbacks.atomic_checkpoint import AtomicCheckpoint
from keras_inpaint.callbacks.divergence_guard import (
    DivergenceGuard,
    non_finite_losses,
    safe_to_save,
    weights_are_finite,
)
from keras_inpaint.callbacks.epoch_clock import EpochClock
from keras_inpaint.callbacks.metrics_csv import MetricsCSV
from keras_inpaint.callbacks.sample_grid import SampleGrid, sample_grid, write_png
from keras_inpaint.callbacks.skipped_images_log import SkippedImagesLog
from keras_inpaint.callbacks.training_backup import EpochEndDone, TrainingBackup
from keras_inpaint.callbacks.training_progress import TrainingProgress

__all__ = [
    "AtomicCheckpoint",
    "DivergenceGuard",
    "EpochClock",
    "EpochEndDone",
    "MetricsCSV",
    "SampleGrid",
    "SkippedImagesLog",
    "TrainingBackup",
    "TrainingProgress",
    "non_finite_losses",
    "safe_to_save",
    "sample_grid",
    "weights_are_finite",
    "write_png",
]
