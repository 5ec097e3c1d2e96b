"""Export a trained Inpainter as a SavedModel laid out for TF Serving.

Layout: `<base_dir>/<name>/<version>/` (TF Serving loads the highest
numbered version of each model), holding the SavedModel with the signatures
`serving_default` and `inpaint_bytes` (see `keras_inpaint.export.signatures`)
and the warmup requests `assets.extra/tf_serving_warmup_requests`.

The export is written to a hidden temporary folder beside the version, flushed
to disk and renamed into place, so a crash (even SIGKILL or a power cut) never
leaves a half-written version a server would pick up, and an existing version
is never overwritten. A killed export leaves its `.tmp-*` folder behind, which
TF Serving, `numbered_versions`, `next_version` and `keras-inpaint serve`
ignore (only all-digit folder names are versions); the next export into the
same model folder removes it once it is clearly abandoned (see
`is_abandoned_staging`). A failed write (read-only or full destination, no
permission) raises an OSError naming the destination, the cause and the fix,
after removing everything the export created: no partial version, no
temporary folder.

Each version also holds `assets.extra/keras_inpaint.json` (`EXPORT_INFO_FILE`),
`{"max_side": N}`, so `keras-inpaint inpaint` can refuse a too large image
from its header before loading the export.

Example:
    >>> from keras_inpaint.export import export_saved_model
    >>> path = export_saved_model("runs/quickstart", "exports")  # doctest: +SKIP
    >>> path.parts[-2:]                                           # doctest: +SKIP
    ('quickstart', '1')

Naming rule (`export_name`): an export is named after what it was made from,
the run directory (`runs/quickstart` -> `quickstart`, also for the automatic
export at the end of `keras-inpaint train`), the `.keras` file's stem or the
preset's name, unless a name is given. Every name follows
`keras_inpaint.model_names.check_model_name`, the rule `keras-inpaint serve`
applies to model folders too.
"""

import errno
import logging
import os
import re
import shutil
import socket
import time
import uuid
from pathlib import Path

import keras
import tensorflow as tf

from keras_inpaint.contract import BYTES_SIGNATURE, DEFAULT_MAX_SIDE, SIGNATURE
from keras_inpaint.export.signatures import (
    bytes_input_signature,
    bytes_serving_function,
    image_input_signature,
    serving_function,
)
from keras_inpaint.export.size_rule import SizeRule
from keras_inpaint.export.warmup import write_warmup_requests
from keras_inpaint.export_info import write_export_info
from keras_inpaint.model_names import check_model_name
from keras_inpaint.models.inpainter import Inpainter

logger = logging.getLogger(__name__)

# A temporary export folder untouched for this long is abandoned whoever wrote it:
# an export writes its files within minutes.
STALE_AFTER_SECONDS = 3600
# Untouched for this long and its writer (on this host) gone: abandoned. The wait
# covers a writer in another PID namespace (a container) that shares the host name.
DEAD_WRITER_GRACE_SECONDS = 120
# `.tmp-<version>-<host>-<pid>-<token>`; folders of older releases lack host and pid.
_STAGING = re.compile(r"\.tmp-\d+-(?:(?P<host>[A-Za-z0-9_.]+)-(?P<pid>\d+)-)?[0-9a-f]{32}")


def load_inpainter(source):
    """An `Inpainter` from a model object, a `.keras` file or a training run directory."""
    if isinstance(source, Inpainter):
        return source
    path = Path(source)
    if path.is_dir():
        candidate = path / "checkpoints" / "last.keras"
        if not candidate.is_file():
            raise FileNotFoundError(
                f"{path} is not a training run: {candidate} is missing. Pass a run "
                "directory written by `keras-inpaint train` or a .keras file."
            )
        path = candidate
    if path.suffix != ".keras" or not path.is_file():
        raise FileNotFoundError(
            f"{path} is not a .keras file or a training run directory; pass one of those."
        )
    import keras_inpaint.models  # noqa: F401  (registers the zoo classes before loading)

    model = keras.saving.load_model(path, safe_mode=True)
    if not isinstance(model, Inpainter):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a keras_inpaint Inpainter.")
    return model


def export_name(source):
    """The model name an export of `source` gets when none is given.

    A run directory or preset folder gives its folder name, a `.keras` file its
    stem, a shipped preset its name and an `Inpainter` object its Keras name.
    The name must follow `keras_inpaint.model_names.check_model_name` (one
    folder name): TF Serving serves `<base>/<name>/<version>`.

    Example:
        >>> export_name("runs/quickstart")
        'quickstart'
        >>> export_name("checkpoints/ce_128.keras")
        'ce_128'
    """
    if isinstance(source, Inpainter):
        return check_model_name(source.name)
    path = Path(source).absolute()
    return check_model_name(path.stem if path.suffix == ".keras" else path.name)


def numbered_versions(model_dir):
    """The integer versions present under `model_dir`, ascending (temporary folders ignored)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(
        int(child.name)
        for child in model_dir.iterdir()
        if child.is_dir() and re.fullmatch(r"\d+", child.name)
    )


def next_version(model_dir):
    """The next free integer version under `model_dir` (1 when empty)."""
    return max(numbered_versions(model_dir), default=0) + 1


def _host_label():
    # No '-' in it, so the staging folder name parses back unambiguously.
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def _staging_name(version):
    return f".tmp-{version}-{_host_label()}-{os.getpid()}-{uuid.uuid4().hex}"


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        # It exists but belongs to another user (EPERM), or we cannot tell: keep it.
        return True
    return True


def _seconds_untouched(folder):
    """Seconds since anything in `folder` (itself included) was last modified."""
    newest = 0.0
    for path in [folder, *folder.rglob("*")]:
        try:
            newest = max(newest, path.lstat().st_mtime)
        except OSError:
            continue
    return time.time() - newest


def is_abandoned_staging(folder):
    """Whether `folder` is a temporary export folder a killed export left behind.

    The rule (an export writes its files within minutes, so a folder still being
    written is never taken):
    - untouched (no file in it modified) for `STALE_AFTER_SECONDS` (an hour), or
    - written by a process of this host that no longer runs (its name records the
      host and the process id) and untouched for `DEAD_WRITER_GRACE_SECONDS`.
    Folders of this very process and names `export_saved_model` does not make are kept.
    """
    folder = Path(folder)
    match = _STAGING.fullmatch(folder.name)
    if match is None or not folder.is_dir():
        return False
    own = match["pid"] is not None and match["host"] == _host_label()
    if own and int(match["pid"]) == os.getpid():
        return False
    untouched = _seconds_untouched(folder)
    if untouched >= STALE_AFTER_SECONDS:
        return True
    return own and untouched >= DEAD_WRITER_GRACE_SECONDS and not _process_alive(int(match["pid"]))


def remove_abandoned_staging(model_dir):
    """Remove the abandoned `.tmp-*` folders under `model_dir`; returns the removed paths."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    removed = []
    for child in sorted(model_dir.iterdir()):
        if child.name.startswith(".tmp-") and is_abandoned_staging(child):
            shutil.rmtree(child, ignore_errors=True)
            if not child.exists():
                removed.append(child)
                logger.warning("removed %s, left behind by an export that was killed", child)
    return removed


def _flush_to_disk(folder):
    # Without this a power cut after the rename can leave a complete-looking
    # version whose files were never written out.
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def _publish(staging, target):
    _flush_to_disk(staging)
    try:
        os.rename(staging, target)
    except OSError as error:
        if target.exists():
            raise FileExistsError(
                f"{target} was written by another export meanwhile; it is never overwritten."
            ) from error
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


# What a failed write means, and what to do about it.
_WRITE_FAILURES = {
    errno.ENOSPC: ("the disk is full", "free space there or pass another --base folder"),
    errno.EDQUOT: ("the disk quota is exhausted", "free space or pass another --base folder"),
    errno.EROFS: ("the file system is read-only", "pass a writable --base folder"),
    errno.EACCES: ("permission denied", "pass a --base folder you can write to"),
    errno.EPERM: ("operation not permitted", "pass a --base folder you can write to"),
}
_TF_WRITE_FAILURES = {
    "No space left on device": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Read-only file system": errno.EROFS,
    "Permission denied": errno.EACCES,
}


def _write_error(target, error):
    """An OSError naming the export destination, the cause and the fix."""
    code = getattr(error, "errno", None)
    if code is None:
        text = getattr(error, "message", str(error))
        code = next((value for key, value in _TF_WRITE_FAILURES.items() if key in text), None)
    cause, fix = _WRITE_FAILURES.get(
        code, (str(getattr(error, "message", error)).strip(), "check the destination folder")
    )
    return OSError(
        code or errno.EIO,
        f"cannot write the export {target}: {cause}. Nothing was published (no partial "
        f"version, temporary files removed); {fix}.",
    )


def new_version(base_dir, name, version=None):
    """The folder `<base_dir>/<name>/<version>` of a new version (next free when None).

    Abandoned staging folders of killed exports are removed first; a version
    that exists raises FileExistsError (versions are never overwritten).
    """
    model_dir = Path(base_dir) / name
    remove_abandoned_staging(model_dir)
    version = next_version(model_dir) if version is None else int(version)
    target = model_dir / str(version)
    if target.exists():
        raise FileExistsError(
            f"{target} already exists and is never overwritten; omit --version to use "
            f"the next free one ({next_version(model_dir)})."
        )
    return target


def publish_version(target, write, errors=(OSError,)):
    """Write a version with `write(folder)` into a hidden folder, then rename it to `target`.

    TF Serving ignores folders whose name is not a number, so the temporary
    folder is invisible to a server until the rename. A failure (one of
    `errors`) raises the OSError of `_write_error`; nothing is left behind,
    neither the temporary folder nor the folders above it this call created.
    """
    model_dir = target.parent
    created = [folder for folder in (model_dir.parent, model_dir) if not folder.exists()]
    staging = model_dir / _staging_name(target.name)
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        write(staging)
        _publish(staging, target)
    except FileExistsError:
        raise
    except errors as error:
        raise _write_error(target, error) from error
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                break


def export_saved_model(source, base_dir, name=None, version=None, max_side=DEFAULT_MAX_SIDE):
    """Write `source` as `<base_dir>/<name>/<version>/` and return that path.

    Args:
        source: an `Inpainter`, a `.keras` file or a training run directory.
        base_dir: the TF Serving model base folder.
        name: model name (folder); defaults to `export_name(source)`.
        version: integer version; defaults to the next free one. An existing
            version raises FileExistsError.
        max_side: the largest image side, in pixels, the export accepts; larger
            requests fail with an error naming this option. It bounds the
            memory one request can take.
    """
    name = check_model_name(name) if name is not None else export_name(source)
    model = load_inpainter(source)
    target = new_version(base_dir, name, version)
    rule = SizeRule.for_generator(model.generator)
    publish_version(
        target,
        lambda folder: _write_version(model, folder, name, rule, max_side),
        errors=(OSError, tf.errors.OpError),
    )
    return target


def _write_version(model, staging, name, rule, max_side):
    # Only the variables the endpoints use are saved (the generator's), not
    # the discriminator's or the optimizers'.
    archive = keras.export.ExportArchive()
    archive.add_endpoint(
        SIGNATURE,
        serving_function(model, max_side),
        input_signature=image_input_signature(rule),
    )
    archive.add_endpoint(
        BYTES_SIGNATURE,
        bytes_serving_function(model, max_side),
        input_signature=bytes_input_signature(),
    )
    archive.write_out(str(staging), verbose=False)
    write_warmup_requests(staging, name, rule)
    write_export_info(staging, max_side)
