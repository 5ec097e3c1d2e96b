"""Load test of `keras-inpaint serve` on 127.0.0.1: mixed requests, latency, errors, memory.

Exports a model (or takes `--model-dir`), starts `keras-inpaint serve` on
127.0.0.1 at a free port in a child process with its default workers and
limits, and measures

1. **alone**: one client sends small requests (64x64, JSON and PNG) one after
   another: their p50/p99 latency with the server to themselves;
2. **under load**: `--clients` threads for `--seconds` seconds, each sending a
   fixed mix back to back over a keep-alive connection: sizes 64 to 1024 px,
   `serving_default` JSON numbers and `inpaint_bytes` PNG files, one square hole
   of a quarter of the side; two requests in 20 are oversize (a 4096x4096 PNG
   over `--max-pixels`, or 40 images over `--max-batch-size`) and must get 413;
3. the server's resident memory (all its processes) at the start, its peak
   during the load (sampled every 0.25 s) and after the load.

Every valid request must get HTTP 200 with a well-formed answer and every
oversize one 413; anything else counts in `errors`. Prints one JSON object
with the status counts, the p50/p99 of small requests alone and under load
(target: p99 under load < 10 x p50 alone), the p50/p99 of all requests and of
each kind of request (`by_kind`), and the RSS figures (target: after within
10 % of start). The server is always stopped.

Without `--model-dir` the model is the default recipe's generator
(`context_encoder/builtin_64`, a 64x64 Context Encoder tiled over larger
images), untrained: its weights do not change the work a request costs.
`--tiny` uses a Context Encoder with few filters at 32x32 and sizes up to 128.

    python benchmarks/serving_load.py            # 16 clients, 60 s
    python benchmarks/serving_load.py --quick    # 16 clients, 5 s
    python benchmarks/serving_load.py --tiny     # 2 clients, 3 s, tiny model
    python benchmarks/serving_load.py --model-dir exports/quickstart
"""

import argparse
import http.client
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SETTINGS = {
    "full": {"clients": 16, "seconds": 60.0, "alone": 40},
    "quick": {"clients": 16, "seconds": 5.0, "alone": 5},
    "tiny": {"clients": 2, "seconds": 3.0, "alone": 4},
}
# Targets of the issue: small requests under load vs alone; memory back after the load.
P99_TARGET_RATIO = 10.0
RSS_TARGET_RATIO = 1.10
# Seconds the server is left idle before its memory is read (after the warm-up and the load).
SETTLE_SECONDS = 2.0
DEFAULT_RECIPE = "context_encoder/builtin_64"


def log(message):
    print(message, file=sys.stderr, flush=True)


def export_model(setting, base):
    """Export the benchmark's model under `base`; returns `(model folder, description)`."""
    from keras_inpaint.export import export_saved_model

    if setting == "tiny":
        # The test suite's tiny model, defined once in tests/test_case.py.
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from test_case import tiny_context_encoder

        model, name = tiny_context_encoder(), "tiny_context_encoder"
        description = "tiny Context Encoder (32x32, 8 filters), untrained"
    else:
        from keras_inpaint.training.recipes import build_inpainter, load_recipe

        model, name = build_inpainter(load_recipe(DEFAULT_RECIPE), compile=False), "quickstart"
        description = f"{DEFAULT_RECIPE} generator, untrained (weights do not change the cost)"
    export_saved_model(model, base, name=name)
    return Path(base) / name, description


def smooth_image(rng, size):
    """A smooth uint8 `(size, size, 3)` image (bilinear upsampling of 4x4 noise, numpy only)."""
    coarse = rng.uniform(0, 255, (4, 4, 3))
    rows = np.linspace(0, 3, size)
    row_low = np.minimum(rows.astype(int), 2)
    weight = (rows - row_low)[:, None, None]
    tall = coarse[row_low] * (1 - weight) + coarse[row_low + 1] * weight
    weight = (rows - row_low)[None, :, None]
    image = tall[:, row_low] * (1 - weight) + tall[:, row_low + 1] * weight
    return image.round().astype(np.uint8)


def box_hole(rng, size):
    """A uint8 `(size, size)` mask with one square hole (1) of a quarter of the side."""
    mask = np.zeros((size, size), np.uint8)
    side = max(1, size // 4)
    top, left = rng.integers(0, size - side + 1, 2)
    mask[top : top + side, left : left + side] = 1
    return mask


def _encode(body):
    return json.dumps(body, separators=(",", ":")).encode("ascii")


def request_body(kind, size, seed=0):
    """One request: `kind` "json" (serving_default numbers) or "png" (inpaint_bytes files)."""
    from keras_inpaint.serving import client

    rng = np.random.default_rng(seed)
    image, mask = smooth_image(rng, size), box_hole(rng, size)
    if kind == "json":
        return _encode(client.instances_request(image[None], mask[None]))
    return _encode(client.bytes_request([image], [mask]))


def oversize_bodies():
    """Requests over the server's default limits: too many pixels, too many images."""
    from keras_inpaint.serving import client

    huge = client.encode_png(np.zeros((4096, 4096, 3), np.uint8))
    hole = client.encode_png(np.zeros((4096, 4096), np.uint8))
    small = client.encode_png(np.zeros((16, 16, 3), np.uint8))
    return [
        _encode(client.bytes_request([huge], [hole])),
        _encode(client.bytes_request([small] * 40, [small] * 40)),
    ]


def request_mix(setting):
    """The list of `(label, body, expected status, small?)` every client cycles through."""
    sizes = {"small": 64, "medium": 256, "large": 1024}
    if setting == "tiny":
        sizes = {"small": 32, "medium": 64, "large": 128}
    valid = [
        ("small", "json", 0),
        ("small", "png", 1),
        ("medium", "json", 2),
        ("small", "json", 3),
        ("medium", "png", 4),
        ("small", "png", 5),
        ("large", "png", 6),
        ("small", "json", 7),
        ("medium", "png", 8),
        ("small", "png", 9),
    ]
    mix = [
        (f"{kind} {sizes[name]}", request_body(kind, sizes[name], seed), 200, name == "small")
        for name, kind, seed in valid
    ]
    oversize = oversize_bodies()
    mix_20 = mix + mix[:9] + [("oversize pixels", oversize[0], 413, False)]
    mix_20[9] = ("oversize batch", oversize[1], 413, False)
    return mix_20


class Client(threading.Thread):
    """Sends its mix back to back on one keep-alive connection until `stop_at`."""

    def __init__(self, index, port, path, mix, start_at, stop_at):
        super().__init__(name=f"client-{index}", daemon=True)
        self.port, self.path, self.mix = port, path, mix
        self.index, self.start_at, self.stop_at = index, start_at, stop_at
        self.latencies, self.small, self.statuses, self.errors, self.late = [], [], {}, {}, 0
        self.by_kind = {}  # label -> latencies of its answered requests

    def _count(self, table, key):
        table[key] = table.get(key, 0) + 1

    def run(self):
        connection = None
        sent = 0
        while time.monotonic() < self.start_at:
            time.sleep(0.001)
        while time.monotonic() < self.stop_at:
            label, body, expected, small = self.mix[(self.index * 3 + sent) % len(self.mix)]
            sent += 1
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            began = time.monotonic()
            try:
                connection.request("POST", self.path, body, {"Content-Type": "application/json"})
                answer = connection.getresponse()
                data = answer.read()
            except (OSError, http.client.HTTPException) as error:
                self._count(self.errors, f"{label}: {type(error).__name__}")
                connection.close()
                connection = None
                continue
            ended = time.monotonic()
            self._count(self.statuses, str(answer.status))
            if answer.status != expected:
                self._count(self.errors, f"{label}: HTTP {answer.status}")
            elif expected == 200 and not data.startswith(b'{"predictions":['):
                self._count(self.errors, f"{label}: malformed answer")
            elif ended > self.stop_at:
                self.late += 1  # completed after the window: not counted
            elif expected == 200:
                self.latencies.append(ended - began)
                self.by_kind.setdefault(label, []).append(ended - began)
                if small:
                    self.small.append(ended - began)
            if answer.will_close:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()


class MemorySampler(threading.Thread):
    """Samples the server's RSS (all its processes) every `interval` s; keeps the peak."""

    def __init__(self, server, interval=0.25):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.peak, self.stop = 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.server.rss())
            self.stop.wait(self.interval)


def run_load(port, model_name, mix, clients, seconds):
    """`(threads)` after `clients` clients sent `mix` for `seconds` seconds."""
    path = f"/v1/models/{model_name}:predict"
    start_at = time.monotonic() + 0.2
    threads = [
        Client(index, port, path, mix, start_at, start_at + seconds) for index in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 600)
    return threads


def alone(port, model_name, mix, count):
    """Latencies of `count` small requests sent one after another by a single client."""
    small = [body for _, body, _, is_small in mix if is_small]
    latencies = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        for index in range(count):
            began = time.monotonic()
            connection.request(
                "POST",
                f"/v1/models/{model_name}:predict",
                small[index % len(small)],
                {"Content-Type": "application/json"},
            )
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"a small request alone got HTTP {answer.status}")
            latencies.append(time.monotonic() - began)
    finally:
        connection.close()
    return np.array(latencies)


def _merged(threads, field):
    merged = {}
    for thread in threads:
        for key, count in getattr(thread, field).items():
            merged[key] = merged.get(key, 0) + count
    return dict(sorted(merged.items()))


def _by_kind(threads):
    """`{label: {"requests", "p50_ms", "p99_ms"}}` of the answered requests of each kind."""
    merged = {}
    for thread in threads:
        for label, values in thread.by_kind.items():
            merged.setdefault(label, []).extend(values)
    return {
        label: {"requests": len(values), "p50_ms": _ms(values, 50), "p99_ms": _ms(values, 99)}
        for label, values in sorted(merged.items())
    }


def _ms(values, percentile):
    return round(float(np.percentile(values, percentile)) * 1000.0, 1) if len(values) else None


def warm_up(port, model_name, body):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.request("POST", f"/v1/models/{model_name}:predict", body)
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"the warm-up request got HTTP {answer.status}")
    finally:
        connection.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    level = parser.add_mutually_exclusive_group()
    level.add_argument("--tiny", action="store_true", help="2 clients, 3 s, tiny model (tests)")
    level.add_argument("--quick", action="store_true", help="16 clients, 5 s")
    parser.add_argument("--model-dir", help="serve this export (<base>/<name>) instead")
    parser.add_argument("--clients", type=int, help="concurrent clients")
    parser.add_argument("--seconds", type=float, help="length of the measured window")
    args = parser.parse_args(argv)
    setting = "tiny" if args.tiny else "quick" if args.quick else "full"
    config = dict(SETTINGS[setting])
    for key in ("clients", "seconds"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)

    from keras_inpaint.serving.local_server import LocalServer
    from keras_inpaint.serving.memory import default_workers

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="serving-load-") as scratch:
        if args.model_dir:
            model_dir = Path(args.model_dir)
            description = f"export {model_dir}"
        else:
            log(f"exporting the {setting} model ...")
            model_dir, description = export_model(setting, Path(scratch) / "exports")
        mix = request_mix(setting)
        log("starting keras-inpaint serve on 127.0.0.1 ...")
        with LocalServer([model_dir], log_path=Path(scratch) / "server.log") as server:
            for _, body, expected, _ in mix[:10]:  # every valid request once
                if expected == 200:
                    warm_up(server.port, model_dir.name, body)
            time.sleep(SETTLE_SECONDS)  # workers give memory back once idle, start and end alike
            rss_start = server.rss()
            log(f"{config['alone']} small requests alone ...")
            small_alone = alone(server.port, model_dir.name, mix, config["alone"])
            log(f"{config['clients']} clients for {config['seconds']:g} s ...")
            sampler = MemorySampler(server)
            sampler.start()
            threads = run_load(
                server.port, model_dir.name, mix, config["clients"], config["seconds"]
            )
            sampler.stop.set()
            sampler.join()
            time.sleep(SETTLE_SECONDS)
            rss_after = server.rss()
    latencies = np.array([value for thread in threads for value in thread.latencies])
    small_load = np.array([value for thread in threads for value in thread.small])
    errors = _merged(threads, "errors")
    p50_alone, p99_load = _ms(small_alone, 50), _ms(small_load, 99)
    result = {
        "benchmark": "serving_load",
        "setting": setting,
        "clients": config["clients"],
        "seconds": config["seconds"],
        "requests": int(len(latencies)),
        "requests_per_s": round(len(latencies) / config["seconds"], 2),
        "p50_ms": _ms(latencies, 50),
        "p99_ms": _ms(latencies, 99),
        "errors": int(sum(errors.values())),
        "error_kinds": errors,
        "statuses": _merged(threads, "statuses"),
        "completed_after_window": sum(thread.late for thread in threads),
        "by_kind": _by_kind(threads),
        "small_alone_p50_ms": p50_alone,
        "small_alone_p99_ms": _ms(small_alone, 99),
        "small_load_p50_ms": _ms(small_load, 50),
        "small_load_p99_ms": p99_load,
        "small_p99_load_vs_p50_alone": (
            round(p99_load / p50_alone, 2) if p50_alone and p99_load else None
        ),
        "p99_target_ratio": P99_TARGET_RATIO,
        "rss_start_mb": round(rss_start / 2**20, 1),
        "rss_peak_mb": round(max(sampler.peak, rss_start) / 2**20, 1),
        "rss_after_mb": round(rss_after / 2**20, 1),
        "rss_after_vs_start": round(rss_after / rss_start, 3) if rss_start else None,
        "rss_target_ratio": RSS_TARGET_RATIO,
        "model": description,
        "mix": [label for label, _, _, _ in mix],
        "server": "keras-inpaint serve, default workers and limits, on 127.0.0.1",
        "workers": default_workers(1),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
