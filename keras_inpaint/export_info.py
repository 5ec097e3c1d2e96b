"""What an export records about itself beside its SavedModel, read without TensorFlow.

Each export version holds `assets.extra/keras_inpaint.json` (`EXPORT_INFO_FILE`)
with the options it was written with. The server reads it in its HTTP process,
which must not load TensorFlow, so this module imports only the standard library.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> version = Path(tempfile.mkdtemp())
    >>> write_export_info(version, max_side=512)
    >>> export_max_side(version)
    512
"""

import json
from pathlib import Path

EXPORT_INFO_FILE = Path("assets.extra") / "keras_inpaint.json"


def write_export_info(version_dir, max_side):
    """Record `max_side` in `version_dir` (a staging folder, published as a whole later)."""
    path = Path(version_dir) / EXPORT_INFO_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"max_side": int(max_side)}) + "\n")


def export_max_side(version_dir):
    """The `max_side` an export version was written with, or None when it does not record it."""
    try:
        info = json.loads((Path(version_dir) / EXPORT_INFO_FILE).read_text())
        return int(info["max_side"])
    except (OSError, ValueError, KeyError, TypeError):
        # Exports of older releases: their graph still refuses larger images.
        return None
