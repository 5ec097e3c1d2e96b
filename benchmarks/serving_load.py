"""Load test of `keras-inpaint serve` on 127.0.0.1: requests/s and latency under concurrent clients.

Exports a model (or takes `--model-dir`), starts `keras-inpaint serve` on
127.0.0.1 at a free port in a child process, and runs `--clients` threads
for `--seconds` seconds, each sending real `serving_default` predict requests
(row format: a uint8 image and a box-hole mask as JSON numbers) one after
another over a keep-alive connection. Every answer must be HTTP 200 with one
image of the request's size; anything else (an error status, a wrong answer,
a broken connection) counts in `errors`. Prints one JSON object with the
request count, requests/s and the p50/p99 latency of the requests that
completed in the window. The server is always stopped.

Without `--model-dir` the model is the default recipe's generator
(`context_encoder/builtin_64`, a 64x64 Context Encoder tiled over larger
images), untrained: its weights do not change the work a request costs.
`--tiny` uses a Context Encoder with few filters at 32x32 instead.

    python benchmarks/serving_load.py            # 8 clients, 30 s, 128x128 images
    python benchmarks/serving_load.py --quick    # 8 clients, 15 s
    python benchmarks/serving_load.py --tiny     # 2 clients, 3 s, tiny model, 32x32
    python benchmarks/serving_load.py --model-dir exports/quickstart --image-size 256
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
    "full": {"clients": 8, "seconds": 30.0, "image_size": 128},
    "quick": {"clients": 8, "seconds": 15.0, "image_size": 128},
    "tiny": {"clients": 2, "seconds": 3.0, "image_size": 32},
}
DEFAULT_RECIPE = "context_encoder/builtin_64"
DISTINCT_REQUESTS = 8


def log(message):
    print(message, file=sys.stderr, flush=True)


def export_model(setting, base):
    """Export the benchmark's model under `base`; returns `(model folder, description)`."""
    from keras_inpaint.export import export_saved_model

    if setting == "tiny":
        from keras_inpaint.models.context_encoder import (
            ContextEncoderGenerator,
            ContextEncoderInpainter,
        )

        generator = ContextEncoderGenerator(
            image_size=32,
            variant="full",
            encoder_filters=[8, 8, 8],
            bottleneck=16,
            decoder_filters=[8, 8, 8],
            residual=True,
            fill="known_mean",
        )
        model, name = ContextEncoderInpainter(generator), "tiny_context_encoder"
        description = "tiny Context Encoder (32x32, 8 filters), untrained"
    else:
        from keras_inpaint.training.recipes import build_inpainter, load_recipe

        model, name = build_inpainter(load_recipe(DEFAULT_RECIPE), compile=False), "quickstart"
        description = f"{DEFAULT_RECIPE} generator, untrained (weights do not change the cost)"
    export_saved_model(model, base, name=name)
    return Path(base) / name, description


def request_bodies(count, size, seed=0):
    """`count` JSON bodies: smooth uint8 images with one box hole of a quarter of the side."""
    rng = np.random.default_rng(seed)
    bodies = []
    for _ in range(count):
        coarse = rng.uniform(0, 255, (4, 4, 3))
        rows = np.linspace(0, 3, size)
        # Bilinear upsampling with numpy only: smooth, photograph-like content.
        row_low = np.minimum(rows.astype(int), 2)
        weight = (rows - row_low)[:, None, None]
        tall = coarse[row_low] * (1 - weight) + coarse[row_low + 1] * weight
        weight = (rows - row_low)[None, :, None]
        image = tall[:, row_low] * (1 - weight) + tall[:, row_low + 1] * weight
        image = image.round().astype(np.uint8)
        mask = np.zeros((size, size, 1), np.uint8)
        side = max(1, size // 4)
        top, left = rng.integers(0, size - side + 1, 2)
        mask[top : top + side, left : left + side] = 1
        body = {"instances": [{"image": image.tolist(), "mask": mask.tolist()}]}
        bodies.append(json.dumps(body, separators=(",", ":")).encode("ascii"))
    return bodies


class Client(threading.Thread):
    """Sends requests back to back on one keep-alive connection until `stop_at`."""

    def __init__(self, index, port, path, bodies, size, start_at, stop_at):
        super().__init__(name=f"client-{index}", daemon=True)
        self.port, self.path, self.bodies, self.size = port, path, bodies, size
        self.index, self.start_at, self.stop_at = index, start_at, stop_at
        self.latencies, self.errors, self.late = [], {}, 0

    def _error(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def run(self):
        connection = None
        sent = 0
        while time.monotonic() < self.start_at:
            time.sleep(0.001)
        while time.monotonic() < self.stop_at:
            body = self.bodies[(self.index + sent) % len(self.bodies)]
            sent += 1
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            began = time.monotonic()
            try:
                connection.request("POST", self.path, body, {"Content-Type": "application/json"})
                answer = connection.getresponse()
                data = answer.read()
            except (OSError, http.client.HTTPException) as error:
                self._error(type(error).__name__)
                connection.close()
                connection = None
                continue
            ended = time.monotonic()
            if answer.status != 200:
                self._error(f"HTTP {answer.status}")
            elif not self._well_formed(data, first=sent == 1):
                self._error("malformed answer")
            elif ended <= self.stop_at:
                self.latencies.append(ended - began)
            else:
                self.late += 1  # completed after the window: not counted
            if answer.will_close:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()

    def _well_formed(self, data, first):
        if not data.startswith(b'{"predictions":[[['):
            return False
        if first:  # a full check once per client; the others only look at the start
            pixels = np.asarray(json.loads(data)["predictions"])
            return pixels.shape == (1, self.size, self.size, 3)
        return True


def run_load(port, model_name, bodies, size, clients, seconds):
    path = f"/v1/models/{model_name}:predict"
    start_at = time.monotonic() + 0.2
    threads = [
        Client(index, port, path, bodies, size, start_at, start_at + seconds)
        for index in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 300)
    latencies = np.array([value for thread in threads for value in thread.latencies])
    errors = {}
    for thread in threads:
        for kind, count in thread.errors.items():
            errors[kind] = errors.get(kind, 0) + count
    return latencies, errors, sum(thread.late for thread in threads)


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
    level.add_argument("--quick", action="store_true", help="8 clients, 15 s")
    parser.add_argument("--model-dir", help="serve this export (<base>/<name>) instead")
    parser.add_argument("--clients", type=int, help="concurrent clients")
    parser.add_argument("--seconds", type=float, help="length of the measured window")
    parser.add_argument("--image-size", type=int, help="side of the square request images")
    args = parser.parse_args(argv)
    setting = "tiny" if args.tiny else "quick" if args.quick else "full"
    config = dict(SETTINGS[setting])
    for key in ("clients", "seconds", "image_size"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)

    from keras_inpaint.serving.local_server import LocalServer

    with tempfile.TemporaryDirectory(prefix="serving-load-") as scratch:
        if args.model_dir:
            model_dir = Path(args.model_dir)
            description = f"export {model_dir}"
        else:
            log(f"exporting the {setting} model ...")
            model_dir, description = export_model(setting, Path(scratch) / "exports")
        bodies = request_bodies(DISTINCT_REQUESTS, config["image_size"])
        log("starting keras-inpaint serve on 127.0.0.1 ...")
        with LocalServer([model_dir], log_path=Path(scratch) / "server.log") as server:
            warm_up(server.port, model_dir.name, bodies[0])
            log(f"{config['clients']} clients for {config['seconds']:g} s ...")
            latencies, errors, late = run_load(
                server.port,
                model_dir.name,
                bodies,
                config["image_size"],
                config["clients"],
                config["seconds"],
            )
    milliseconds = latencies * 1000.0
    result = {
        "benchmark": "serving_load",
        "setting": setting,
        "clients": config["clients"],
        "seconds": config["seconds"],
        "requests": int(len(latencies)),
        "requests_per_s": round(len(latencies) / config["seconds"], 2),
        "p50_ms": round(float(np.percentile(milliseconds, 50)), 1) if len(latencies) else None,
        "p99_ms": round(float(np.percentile(milliseconds, 99)), 1) if len(latencies) else None,
        "errors": int(sum(errors.values())),
        "error_kinds": errors,
        "completed_after_window": late,
        "model": description,
        "image_size": config["image_size"],
        "hole": "one square box of a quarter of the side",
        "request_bytes": int(np.mean([len(body) for body in bodies])),
        "server": "keras-inpaint serve, 1 inference worker, on 127.0.0.1",
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
