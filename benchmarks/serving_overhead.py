"""What a REST predict request costs beyond its model call: one client, alternating with in-process.

Exports a model (or takes `--model-dir`), starts `keras-inpaint serve` with one
worker on 127.0.0.1, loads the same SavedModel in this process, and for each
size and request kind alternates (`benchlib.interleaved_medians`)

- `request`: one `POST /v1/models/<name>:predict` over a keep-alive
  connection, answer read in full (the body bytes are prepared beforehand);
- `in_process`: the same signature of the same SavedModel called here on the
  same inputs (`serving_default` on uint8 arrays for `json`, `inpaint_bytes` on
  the PNG files for `png`), the output pulled to numpy.

`ratio` = request / in_process: the targets are <= 3 for JSON-list requests and
<= 1.3 for `inpaint_bytes` (base64 PNG) requests. The server and this process
take turns, so they do not compete for the cores.

Without `--model-dir` the model is the default recipe's generator
(`context_encoder/builtin_64`, tiled over larger images), untrained: its
weights do not change the work a request costs. `--tiny` uses the test suite's
tiny Context Encoder at 32 and 64 px.

    python benchmarks/serving_overhead.py            # 256 and 512 px, 20 runs each
    python benchmarks/serving_overhead.py --tiny     # 32 and 64 px, 3 runs, tiny model

Prints one JSON object: `{"benchmark", "setting", "model", "results": [{"kind",
"size", "request_bytes", "answer_bytes", "request_ms", "in_process_ms", "ratio",
"target"}], ...}`.
"""

import argparse
import http.client
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchlib import interleaved_medians  # noqa: E402
from serving_load import box_hole, export_model, smooth_image  # noqa: E402

SETTINGS = {
    "full": {"sizes": (256, 512), "runs": 20},
    "tiny": {"sizes": (32, 64), "runs": 3},
}
TARGETS = {"json": 3.0, "png": 1.3}


def log(message):
    print(message, file=sys.stderr, flush=True)


def _encode(body):
    return json.dumps(body, separators=(",", ":")).encode("ascii")


def cases(size, seed=0):
    """`{kind: (request body bytes, signature name, in-process inputs)}` for one size."""
    from keras_inpaint.contract import (
        BYTES_SIGNATURE,
        IMAGE,
        IMAGE_BYTES,
        MASK,
        MASK_BYTES,
        SIGNATURE,
    )
    from keras_inpaint.serving import client

    rng = np.random.default_rng(seed)
    image, mask = smooth_image(rng, size), box_hole(rng, size)
    png_image = client.encode_png(image)
    png_mask = client.encode_png(np.where(mask != 0, 255, 0).astype(np.uint8))
    return {
        "json": (
            _encode(client.instances_request(image[None], mask[None])),
            SIGNATURE,
            {IMAGE: image[None], MASK: mask[None, :, :, None]},
        ),
        "png": (
            _encode(client.bytes_request([png_image], [png_mask])),
            BYTES_SIGNATURE,
            {IMAGE_BYTES: np.array([png_image], object), MASK_BYTES: np.array([png_mask], object)},
        ),
    }


class Connection:
    """One keep-alive connection that posts a body and reads the whole answer."""

    def __init__(self, port, path):
        self.path = path
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def post(self, body):
        self.connection.request("POST", self.path, body, {"Content-Type": "application/json"})
        answer = self.connection.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"HTTP {answer.status}: {data[:300]!r}")
        return data

    def close(self):
        self.connection.close()


def measure(model_dir, setting, runs, server_port):
    """The result rows: every size and kind, request vs in-process."""
    import tensorflow as tf

    from keras_inpaint.serving.server import latest_version

    signatures = tf.saved_model.load(str(latest_version(model_dir)[1])).signatures
    connection = Connection(server_port, f"/v1/models/{model_dir.name}:predict")
    rows = []
    try:
        for size in SETTINGS[setting]["sizes"]:
            for kind, (body, name, inputs) in cases(size).items():
                function = signatures[name]
                tensors = {key: tf.constant(value) for key, value in inputs.items()}
                answer = connection.post(body)

                def call(function=function, tensors=tensors):
                    return {key: value.numpy() for key, value in function(**tensors).items()}

                seconds = interleaved_medians(
                    {"request": lambda body=body: connection.post(body), "in_process": call},
                    runs,
                    warmup=2,
                )
                rows.append(
                    {
                        "kind": kind,
                        "size": size,
                        "request_bytes": len(body),
                        "answer_bytes": len(answer),
                        "request_ms": round(1000 * seconds["request"], 2),
                        "in_process_ms": round(1000 * seconds["in_process"], 2),
                        "ratio": round(seconds["request"] / seconds["in_process"], 2),
                        "target": TARGETS[kind],
                    }
                )
                log(json.dumps(rows[-1]))
    finally:
        connection.close()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="32 and 64 px, tiny model (tests)")
    parser.add_argument("--model-dir", help="serve this export (<base>/<name>) instead")
    parser.add_argument("--runs", type=int, help="alternating runs per case")
    args = parser.parse_args(argv)
    setting = "tiny" if args.tiny else "full"
    runs = args.runs or SETTINGS[setting]["runs"]

    from keras_inpaint.serving.local_server import LocalServer

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="serving-overhead-") as scratch:
        if args.model_dir:
            model_dir, description = Path(args.model_dir), f"export {args.model_dir}"
        else:
            log(f"exporting the {setting} model ...")
            model_dir, description = export_model(setting, Path(scratch) / "exports")
        log("starting keras-inpaint serve on 127.0.0.1 (one worker) ...")
        with LocalServer([model_dir], log_path=Path(scratch) / "server.log", workers=1) as server:
            rows = measure(model_dir, setting, runs, server.port)
    result = {
        "benchmark": "serving_overhead",
        "setting": setting,
        "runs": runs,
        "results": rows,
        "model": description,
        "server": "keras-inpaint serve --workers 1, default limits, on 127.0.0.1",
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
