"""Process memory for the server: give freed memory back, size the worker pool.

A large request (a 60 MB JSON body, a 2048x2048 image) makes Python and
TensorFlow allocate hundreds of MB to GBs; once freed, glibc's malloc keeps
most of it in its arenas, so the process stays that large for good.
`release_free_memory` returns those free pages to the system (`malloc_trim`),
and is called after every large request in the HTTP process and the workers.
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
