"""Progress lines for long work, on stderr, so that stdout keeps only results (tables, JSON).

On a terminal a status line is redrawn in place (`\\r`), at most ten times a
second and never wider than the terminal; in a file, a pipe or a CI log
nothing is redrawn: `Progress` writes a line at most every `interval`
seconds and a summary line at the end, and the training callback
(`keras_inpaint.callbacks.TrainingProgress`) one line per epoch. Standard
library only, so the command line's start-up stays fast.

Example:
    >>> import io
    >>> log = io.StringIO()
    >>> with Progress("evaluating", 3, "images", stream=log) as progress:
    ...     for done in range(1, 4):
    ...         progress.update(done)
    >>> log.getvalue().startswith("evaluating 3/3 images in ")
    True
"""

import os
import shutil
import sys
import time

from keras_inpaint import tf_log_filter

# Lines are kept to this width (80 columns and a little more fit most terminals).
MAX_WIDTH = 100
# A line drawn in place is redrawn at most this often (seconds).
REDRAW_SECONDS = 0.1


def is_terminal(stream):
    """True when `stream` shows on a terminal (stderr too when `tf_log_filter` filters it)."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.StringIO, pytest's capture, Jupyter
        return False
    if descriptor == 2:
        return tf_log_filter.stderr_is_terminal()
    return os.isatty(descriptor)


def format_seconds(seconds):
    """`8s`, `4m05s` or `2h03m`: a duration, short."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


class StatusLine:
    """A line redrawn in place on a terminal, and lines of their own anywhere.

    Args:
        stream: where to write (default: `sys.stderr` at construction).
    """

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = is_terminal(self.stream)
        self.width = min(MAX_WIDTH, shutil.get_terminal_size().columns - 1)
        self._drawn = 0  # length of the line now drawn in place
        self._last_draw = -REDRAW_SECONDS

    def show(self, text):
        """Redraw the line in place with `text` (a terminal only, at most every 0.1 s)."""
        now = time.monotonic()
        if not self.terminal or now - self._last_draw < REDRAW_SECONDS:
            return
        self._last_draw = now
        text = text[: self.width]
        self.stream.write("\r" + text.ljust(self._drawn))
        self.stream.flush()
        self._drawn = len(text)

    def write(self, text):
        """Write `text` as a line of its own, in place of the line drawn in place if any."""
        if self._drawn:
            text = "\r" + text.ljust(self._drawn)
            self._drawn = 0
        self.stream.write(text + "\n")
        self.stream.flush()


class Progress:
    """`<label> done/total <unit>` while work goes on; a context manager.

    On a terminal the line is redrawn in place; elsewhere a line is written
    at most every `interval` seconds (each update when `interval` is 0).
    Leaving the `with` block writes the summary line `<label> done/total
    <unit> in <time>`.

    Args:
        label: what is being done, e.g. `"evaluating"`.
        total: how many items there are.
        unit: what the items are, e.g. `"images"`.
        stream: where to write (default `sys.stderr`).
        interval: seconds between the lines written off a terminal.
    """

    def __init__(self, label, total, unit="", stream=None, interval=30.0):
        self.label, self.total, self.unit = label, total, unit
        self.interval = interval
        self.line = StatusLine(stream)
        self.done = 0
        self._start = time.monotonic()
        self._last_line = self._start

    def _text(self, note):
        text = f"{self.label} {self.done}/{self.total} {self.unit}".rstrip()
        return f"{text}: {note}" if note else text

    def update(self, done, note=""):
        """Say that `done` items are done; `note` (e.g. the item's name) ends the line."""
        self.done = done
        now = time.monotonic()
        if self.line.terminal:
            self.line.show(self._text(note))
        elif now - self._last_line >= self.interval:
            self._last_line = now
            self.line.write(self._text(note)[:MAX_WIDTH])

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        elapsed = format_seconds(time.monotonic() - self._start)
        self.line.write(f"{self._text('')} in {elapsed}"[:MAX_WIDTH])
