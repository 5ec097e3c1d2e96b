"""Test settings shared by the whole suite."""

import os
import sys
from pathlib import Path

import pytest

from keras_inpaint.serving.memory import freeze_startup_objects, release_free_memory

# Quiet TensorFlow's C++ logs and keep tests on the CPU, deterministic.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True, scope="session")
def set_the_libraries_aside():
    """Freeze what collection imported (TensorFlow's ~400,000 objects): collections skip it."""
    freeze_startup_objects()


@pytest.fixture(autouse=True, scope="module")
def release_memory_after_each_file():
    """Give a file's freed memory back to the system once it has run.

    Each of the two worker processes runs hundreds of tests; glibc would keep
    what TensorFlow freed (see keras_inpaint.serving.memory).
    """
    yield
    release_free_memory()
