"""Writing user-facing output files safely: checked before the work, replaced atomically.

Every file a command writes for its user (`inpaint --out`, `evaluate --json
--csv --sheet`, comparison sheets) goes through this module:

- `check_output(path, inputs)` runs before any model loads or any image is
  decoded, so a bad output path fails at once: an output that is one of the
  inputs (the same path, or the same file through a symbolic or hard link) is
  refused, and so is a destination whose folder cannot be written (a
  read-only folder, a file where a folder should be). Missing folders are
  allowed: they are created when the output is written.
- `atomic_output(path)` (and `write_bytes`, `write_text`) writes a hidden
  temporary file `.partial-<random>-<name>` in the output's own folder,
  flushes it to disk and renames it over `path` (`os.replace`, atomic on one
  file system). A failure or an interrupt half-way removes the temporary file
  and leaves an earlier `path` exactly as it was; a SIGKILL leaves it behind,
  and `remove_partial_files` clears a training run's when the run starts
  again.

Example:
    >>> from keras_inpaint.output_files import check_output, write_text
    >>> check_output("report.json", {"the image": "photo.png"})  # doctest: +SKIP
    >>> write_text("report.json", "{}")                           # doctest: +SKIP
"""

import contextlib
import os
import uuid
from pathlib import Path

PARTIAL_PREFIX = ".partial-"


def same_file(first, second):
    """Whether two paths name one file: the same resolved path, or (both existing) one inode."""
    first, second = Path(first), Path(second)
    if first.resolve() == second.resolve():
        return True
    # A hard link has another path but the same inode; samefile needs both to exist.
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _input_file_clash(path, source):
    """The input file (`source`, or a file under the folder `source`) that `path` is, or None."""
    source = Path(source)
    if not source.is_dir():
        return source if same_file(path, source) else None
    # A new file cannot be an input; an existing one is compared by inode with each file.
    if not path.is_file():
        return None
    target = path.stat()
    for folder, _, names in os.walk(source):
        for name in names:
            candidate = Path(folder) / name
            try:
                found = candidate.stat()
            except OSError:
                continue
            if (found.st_dev, found.st_ino) == (target.st_dev, target.st_ino):
                return candidate
    return None


def _existing_ancestor(folder):
    """The nearest folder at or above `folder` that exists (the one a write must create into)."""
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_output(path, inputs=None, option="the output"):
    """Refuse an output path that would overwrite an input or cannot be written; returns it.

    Args:
        path: the output file.
        inputs: dict of description -> input path (e.g. `{"--image": "in.png"}`), or
            `(description, path)` pairs; the output may not be any of them, nor a file
            inside an input that is a folder.
        option: how the message names the output (e.g. `"--out"`).

    Raises ValueError (the output is an input or a folder) or PermissionError /
    NotADirectoryError (its folder cannot be written), each naming the fix.
    """
    path = Path(path)
    pairs = inputs.items() if isinstance(inputs, dict) else inputs or ()
    for what, source in pairs:
        clash = _input_file_clash(path, source) if source is not None else None
        if clash is not None:
            inside = "" if clash == Path(source) else f" (in {source})"
            raise ValueError(
                f"{option} {path} is the same file as {what} {clash}{inside}: writing it "
                "would replace the input; give another output file name."
            )
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name.")
    folder = _existing_ancestor(path.parent)
    if not folder.is_dir():
        raise NotADirectoryError(
            f"cannot write {option} {path}: {folder} is a file, not a folder; "
            "give an output path in a folder."
        )
    # os.access answers for this process's user (and root), without writing anything.
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write {option} {path}: the folder {folder} is not writable; give an "
            "output path in a folder you can write to."
        )
    return path


def remove_partial_files(folder):
    """Remove the temporary files that killed writers left in `folder` and below.

    Only for a folder that one process writes at a time (a training run's,
    as it starts): another writer's file in progress would go too. Returns
    the removed paths.
    """
    removed = []
    for path in sorted(Path(folder).rglob(f"{PARTIAL_PREFIX}*")):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _partial_path(path):
    # The name keeps the output's extension, so writers that go by it (matplotlib) still can.
    return path.with_name(f"{PARTIAL_PREFIX}{uuid.uuid4().hex[:12]}-{path.name}")


def _fsync_folder(folder):
    # Makes the rename itself survive a power cut; some file systems refuse, which is harmless.
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary path beside `path`; once the block ends it replaces `path`.

    The block writes the whole output to the yielded path. If the block raises
    (a full disk, an encoder error, Ctrl-C), the temporary file is removed and
    `path` is untouched. Missing folders above `path` are created.

    Example:
        >>> with atomic_output("sheet.png") as partial:  # doctest: +SKIP
        ...     figure.savefig(partial)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_path(path)
    try:
        yield partial
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    _fsync_folder(path.parent)


def write_bytes(path, data):
    """Write `data` to `path` atomically (see `atomic_output`); returns `path` as a Path."""
    with atomic_output(path) as partial:
        with open(partial, "xb") as handle:
            handle.write(data)
    return Path(path)


def write_text(path, text):
    """Write `text` (UTF-8) to `path` atomically (see `atomic_output`); returns `path`."""
    return write_bytes(path, text.encode("utf-8"))
