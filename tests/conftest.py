"""Test settings shared by the whole suite."""

import os
import sys
from pathlib import Path

# Quiet TensorFlow's C++ logs and keep tests on the CPU, deterministic.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))
