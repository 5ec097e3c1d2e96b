"""Process memory for the server: give freed memory back, size the worker pool.

A large request (a 60 MB JSON body, a 2048x2048 image) makes Python and
TensorFlow allocate hundreds of MB to GBs; once freed, glibc's malloc keeps
most of it in its arenas, so the process stays that large for good.
`release_free_memory` returns those free pages to the system (`malloc_trim`):
the HTTP process and each worker call it once idle for a second after a large
body or request (`IdleRelease`).
Its garbage collection walks only what requests made: `freeze_startup_objects`
sets the objects of a started process (TensorFlow's half a million in a
worker) aside, which made each collection there take 0.1-0.4 s instead.

Example:
    >>> release_free_memory() in (True, False)
    True
"""

import contextlib
import ctypes
import ctypes.util
import gc
import os
import threading
import time

# A worker's memory at the default `--max-pixels` (one 2048x2048 image with an
# all-hole mask through the default preset; measured about 1.5 GiB), with margin.
WORKER_MEMORY_BYTES = 2 * 1024**3
MAX_DEFAULT_WORKERS = 4


def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBC = _libc()


def release_free_memory():
    """Collect garbage and return malloc's free pages to the system; True when trimmed.

    Only glibc has `malloc_trim`; elsewhere this only collects garbage.
    """
    gc.collect()
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True


# Seconds a process must have been idle after a large request before its freed memory is
# given back (`IdleRelease`).
IDLE_RELEASE_SECONDS = 1.0


class IdleRelease:
    """Gives freed memory back once no request has run for `delay` seconds after a large one.

    Trimming right after each large request cost that request the trim (9 ms at
    512x512, `Server-Timing` `release`) and the next one the page faults of
    taking the memory back (its model call about 20 % slower at 512x512): a
    worker answering back-to-back requests now keeps its memory until it idles,
    and gives it back then, as before, a second after the last request ends.

    Call `started()` when a request begins and `finished(large)` when it ends,
    however it ends; `large` marks requests whose memory is worth giving back.

    Example:
        >>> releases = []
        >>> idle = IdleRelease(delay=0.01, release=lambda: releases.append(1))
        >>> idle.started(); idle.finished(large=True)
        >>> idle.wait_until_released(timeout=5.0)
        True
        >>> releases
        [1]
    """

    def __init__(self, delay=IDLE_RELEASE_SECONDS, release=release_free_memory):
        self.delay, self._release = float(delay), release
        self._lock = threading.Condition()
        self._active, self._due = 0, None  # requests running; when to release (monotonic)
        self._thread = None

    def started(self):
        """A request begins: no release while it runs."""
        with self._lock:
            self._active += 1

    def finished(self, large):
        """A request ended; after a `large` one, release once `delay` idle seconds have passed."""
        with self._lock:
            self._active = max(0, self._active - 1)
            if large:
                self._due = time.monotonic() + self.delay
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="idle-release")
                    self._thread.daemon = True
                    self._thread.start()
                self._lock.notify_all()

    def wait_until_released(self, timeout):
        """Whether no release is pending within `timeout` seconds (tests wait on it)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._due is None, timeout)

    def _run(self):
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._due is not None)
                wait = self._due - time.monotonic()
                if self._active or wait > 0:
                    # Re-checked when a request ends (it moves `_due`) or the time comes.
                    self._lock.wait(max(wait, 0.05))
                    continue
            self._release()
            with self._lock:
                if self._due is not None and self._due <= time.monotonic() and not self._active:
                    self._due = None
                self._lock.notify_all()


def freeze_startup_objects():
    """Move every object alive now to the collector's permanent generation.

    Called once a process has started (a worker after loading its model): the
    objects of the libraries and the model live as long as the process, and
    full collections (`release_free_memory`) no longer walk them each time.
    """
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def paused_gc():
    """Pause the cyclic garbage collector in the block.

    Parsing or writing a large JSON body makes millions of lists; each few
    hundred trigger a collection that walks them all again, which makes a 20 MB
    body take seconds rather than a fraction of one. Lists of numbers hold no
    reference cycles, so nothing is lost by collecting once afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def available_memory():
    """Bytes of memory available to new processes (MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def usable_cores():
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(models=1, cores=None, memory=None):
    """Inference workers per model: one per core, as many as memory holds, at most 4 in all.

    Args:
        models: models served (they share the cores and memory).
        cores: usable cores (this machine's when None).
        memory: available bytes (this machine's when None; unknown counts as enough).
    """
    cores = usable_cores() if cores is None else int(cores)
    memory = available_memory() if memory is None else int(memory)
    total = min(cores, MAX_DEFAULT_WORKERS)
    if memory is not None:
        total = min(total, memory // WORKER_MEMORY_BYTES)
    return max(1, total // max(1, int(models)))


def threads_per_worker(workers, cores=None):
    """TensorFlow threads for each of `workers` workers, so that together they fill the cores."""
    cores = usable_cores() if cores is None else int(cores)
    return max(1, cores // max(1, int(workers)))
