"""Training callbacks."""

from keras_inpaint.callbacks.atomic_checkpoint import AtomicCheckpoint
from keras_inpaint.callbacks.sample_grid import SampleGrid, sample_grid, write_png

__all__ = ["AtomicCheckpoint", "SampleGrid", "sample_grid", "write_png"]
