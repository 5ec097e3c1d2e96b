"""Keep TensorFlow's known start-up log lines off the command line's stderr; pass the rest.

TensorFlow's C++ libraries write some lines before their logging is set up
(`WARNING: All log messages before absl::InitializeLog() is called ...`, the
oneDNN notice, "Could not find cuda drivers"), and some at ERROR level
while they work (`failed call to cuInit` on a machine without a GPU
driver, oneDNN's DT_INT64 and DT_UINT8 notices, PEPSI's remapper failure; see
models/pepsi/README.md), so neither `TF_CPP_MIN_LOG_LEVEL=2` nor any Python
hook stops them, and a higher level or `TF_ENABLE_ONEDNN_OPTS=0` would hide
real errors or change the numerics.

`hide_tensorflow_noise()` therefore, before TensorFlow is imported, makes
the process's file descriptor 2 a pipe read by a small filter process: the
filter drops the lines `is_noise` recognises and copies every other byte to
the real stderr at once, so real errors, Python tracebacks and progress
lines still show, from this process and from the processes it starts (the
server's workers). A separate process rather than a thread, so that the
last lines of a crash come through too. Nothing else changes: no
environment variable, no TensorFlow setting, and programs that imported
TensorFlow already (tests, notebooks) are left alone. `keras-inpaint
--debug` skips it and shows every line.

Example:
    >>> is_noise(b"WARNING: All log messages before absl::InitializeLog() is called "
    ...          b"are written to STDERR\\n")
    True
    >>> is_noise(b"keras-inpaint train: error: recipe 'x' is not found\\n")
    False
"""

import atexit
import os
import re
import signal
import subprocess
import sys

# An absl log line: severity and date, time, thread id, then `file.cc:line] `.
_ABSL = rb"[IWE]\d{4} [\d:.]+ +\d+ (?:\S+/)?"
# (source file, start of the message) of each known line; the test lists a sample of each.
_LOGGED = (
    (rb"port\.cc", rb"oneDNN custom operations are on\. "),
    (rb"cudart_stub\.cc", rb"Could not find cuda drivers on your machine, GPU will not be used\."),
    (rb"cpu_feature_guard\.cc", rb"This TensorFlow binary is optimized to use available CPU "),
    # 303 is what TensorFlow's CUDA stub answers when it finds no driver library at all;
    # a real driver failure (another code) shows.
    (rb"cuda_platform\.cc", rb"failed call to cuInit: .*UNKNOWN ERROR \(303\)"),
    (rb"util\.cc", rb"oneDNN supports DT_(?:INT64|UINT8) only on platforms with AVX-512\. "),
    (
        rb"meta_optimizer\.cc",
        rb"remapper failed: INVALID_ARGUMENT: Mutation::Apply error: "
        rb"fanout '[^']*LeakyReluGrad' exist for missing node ",
    ),
)
NOISE = re.compile(
    rb"|".join(
        [
            rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
            rb"STDERR",
            # The second line of cpu_feature_guard's notice.
            rb"To enable the following instructions: .* in other operations, rebuild TensorFlow "
            rb"with the appropriate compiler flags\.",
            # The LiteRT interpreter's note when `export --format litert` checks its file.
            rb"INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.",
        ]
        + [_ABSL + source + rb":\d+\] " + message for source, message in _LOGGED]
    )
)
# Lines end at "\n" or "\r" (progress bars redraw with "\r"), terminators kept.
_LINE_ENDS = re.compile(rb"(?<=[\r\n])")
# The running filter process, once started.
_FILTERS = []
# Whether the real stderr, which the filter writes to, is a terminal (set when it starts).
_TERMINAL = []


def is_noise(line):
    """True for a line (bytes) of TensorFlow's known start-up and warm-up chatter."""
    return NOISE.match(line) is not None


def forward(source_fd, sink_fd):
    """Copy lines from one file descriptor to another, without the noise, until end of file."""
    pending = b""
    while chunk := os.read(source_fd, 65536):
        *lines, pending = _LINE_ENDS.split(pending + chunk)
        kept = b"".join(line for line in lines if not is_noise(line))
        if kept:
            os.write(sink_fd, kept)
    if pending and not is_noise(pending):
        os.write(sink_fd, pending)


def hide_tensorflow_noise():
    """Filter stderr until the program exits; nothing when TensorFlow is already imported
    (its start-up lines are out) or the filter already runs."""
    if "tensorflow" in sys.modules or _FILTERS:
        return
    sys.stderr.flush()
    try:
        stderr = os.dup(2)
    except OSError:  # started with stderr closed: nothing to keep clean
        return
    read_end, write_end = os.pipe()
    # -I -S: this file only needs the standard library, so the filter starts in milliseconds.
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", os.path.abspath(__file__)], stdin=read_end, stdout=stderr
    )
    os.close(read_end)
    os.dup2(write_end, 2)
    os.close(write_end)
    _FILTERS.append(process)
    _TERMINAL.append(os.isatty(stderr))
    atexit.register(_stop_filter, process, stderr)


def stderr_is_terminal():
    """True when stderr reaches a terminal, through the filter when it runs (a pipe is none)."""
    return _TERMINAL[0] if _TERMINAL else os.isatty(2)


def _stop_filter(process, stderr):
    """Give the real stderr back and let the filter write out what it still holds."""
    sys.stderr.flush()
    os.dup2(stderr, 2)
    os.close(stderr)
    try:
        # Child processes that inherited the pipe keep the filter running until they end.
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the filter stays to pass on the last lines.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    forward(sys.stdin.fileno(), sys.stdout.fileno())
