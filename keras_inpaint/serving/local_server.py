"""`LocalServer`: `keras-inpaint serve` in a child process on this machine, as a context manager.

For notebooks, benchmarks and tests: it picks a free port on 127.0.0.1, waits
until every model answers its status URL, and always stops the server and its
worker processes on exit (SIGTERM, then SIGKILL to the process group).

Example:
```python
from keras_inpaint.serving import client
from keras_inpaint.serving.local_server import LocalServer

with LocalServer(["exports/quickstart"]) as server:
    print(client.model_status(server.url, "quickstart"))
```
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

_LAUNCH = (
    "import json, sys\n"
    "from keras_inpaint.serving.server import serve\n"
    "serve(**json.loads(sys.argv[1]))\n"
)


def free_port(host="127.0.0.1"):
    """A TCP port that nothing listens on at the moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _proc_pids():
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _process_group(pid):
    """The process group of a running process (None when gone or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (in parentheses) may hold spaces: split after it.
    state, _, group = stat.rsplit(")", 1)[1].split()[:3]
    return None if state == "Z" else int(group)


def _rss(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _answers(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


class LocalServer:
    """Run `keras_inpaint.serving.server.serve` in a child process while in a `with` block.

    Args:
        model_dirs: model folders `<base>/<name>` to serve.
        host: `127.0.0.1` (default) or another address `serve` accepts.
        port: the port; a free one when None.
        startup_timeout: seconds to wait for the models to load.
        log_path: file for the server's output (a temporary file when None);
            its end is shown when the server fails to start.
        **options: other arguments of `serve` (`max_request_bytes`, `timeout`,
            `request_read_timeout`, `max_header_bytes`, `max_connections`,
            `workers`, `max_batch`, `max_pixels`, `max_queue`).
    """

    def __init__(
        self,
        model_dirs,
        host="127.0.0.1",
        port=None,
        startup_timeout=300.0,
        log_path=None,
        **options,
    ):
        self.model_dirs = [str(path) for path in model_dirs]
        self.names = [Path(path).name for path in self.model_dirs]
        self.host = host
        self.port = int(port) if port else free_port()
        self.startup_timeout = startup_timeout
        self.log_path = Path(log_path) if log_path else None
        self.options = options
        self.process = None

    @property
    def url(self):
        """`http://<host>:<port>` (for `0.0.0.0`, reached through 127.0.0.1)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def log_tail(self, chars=5000):
        """The end of the server's output."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self):
        """Start the server and wait until every model answers; raises RuntimeError if not."""
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix="keras-inpaint-serve-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
        arguments = {"model_dirs": self.model_dirs, "host": self.host, "port": self.port}
        arguments.update(self.options)
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, json.dumps(arguments)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.startup_timeout
        waiting = list(self.names)
        while waiting:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"the server exited at start-up:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the server did not answer within {self.startup_timeout:g} s:\n"
                    f"{self.log_tail()}"
                )
            waiting = [name for name in waiting if not _answers(f"{self.url}/v1/models/{name}")]
            if waiting:
                time.sleep(0.3)
        return self

    def pids(self):
        """Process ids of the server and all its processes (its process group; Linux only)."""
        if self.process is None:
            return []
        return [pid for pid in _proc_pids() if _process_group(pid) == self.process.pid]

    def rss(self):
        """Resident memory of the server and all its processes together, in bytes."""
        return sum(_rss(pid) for pid in self.pids())

    def stop(self):
        """Stop the server and its workers (idempotent)."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        # The workers share the server's process group: leave none behind.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
