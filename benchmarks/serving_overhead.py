"""What a REST predict request costs beyond its model call: one client, alternating with in-process.

Exports a model (or takes `--model-dir`), starts `keras-inpaint serve` with one
worker on 127.0.0.1, loads the same SavedModel in this process, and for each
size and request kind alternates (`benchlib.interleaved_medians`)

- `request`: one `POST /v1/models/<name>:predict` over a keep-alive
  connection, answer read in full (the body bytes are prepared beforehand),
  or for `grpc` one `PredictionService.Predict` call on the server's gRPC
  port (`--grpc-port`) with `uint8` `tensor_content` inputs, through TF
  Serving's own Python stub;
- `in_process`: the same signature of the same SavedModel called here on the
  same inputs (`serving_default` on uint8 arrays for `json` and `grpc`,
  `inpaint_bytes` on the PNG files for `png`), the output pulled to numpy.

`ratio` = request / in_process: the targets are <= 3 for JSON-list requests and
<= 1.3 for `inpaint_bytes` (base64 PNG) requests (gRPC has none; its rows
show what the binary protocol costs). The server and this process
take turns, so they do not compete for the cores.

JSON-list rows also carry the anchor of a server written in C++, as TF
Serving's REST front end is: `native_parse_ms`, the same request bytes parsed
by simdjson (a C++ parser) with the pixel lists copied into uint8 arrays in
C++; `native_encode_ms`, the answer's arrays written as JSON by orjson (a
compiled writer), as the server writes them (`predict_response_bytes`);
`anchor_ratio` = (in_process + both) / in_process, what a request would cost
over the model if parsing and writing JSON were all a server added. Both
are timed in the same alternation.

REST rows also say where the request's time went, from the server's
`Server-Timing` header (keras_inpaint/serving/server_timing.py), medians over
the timed requests: `stages_ms` (`http-parse`, `parse`, `model`, `encode`,
`total`: those the answers had), `handoff_ms` =
`total` minus the other stages (passing the request to the worker and the
answer back, between processes) and `http_ms` = `request_ms` minus `total`
(HTTP: reading the body, writing the answer, loopback, the client).

Without `--model-dir` the model is the default recipe's generator
(`context_encoder/builtin_64`, tiled over larger images), untrained: its
weights do not change the work a request costs. `--tiny` uses the test suite's
tiny Context Encoder at 32 and 64 px.

    python benchmarks/serving_overhead.py            # 256 and 512 px, 20 runs each
    python benchmarks/serving_overhead.py --quick    # 256 and 512 px, 3 runs each
    python benchmarks/serving_overhead.py --tiny     # 32 and 64 px, 3 runs, tiny model

Prints one JSON object: `{"benchmark", "setting", "model", "results": [{"kind",
"size", "request_bytes", "answer_bytes", "request_ms", "in_process_ms", "ratio",
"target"}, plus "native_parse_ms", "native_encode_ms", "anchor_ratio" on the
JSON rows, "stages_ms", "handoff_ms", "http_ms" on the REST rows; no "target" on
the gRPC rows], ...}`.
"""

import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchlib import interleaved_medians, log, parse_setting  # noqa: E402
from serving_load import box_hole, export_model, smooth_image  # noqa: E402

from keras_inpaint.serving.rest_protocol import ROW, predict_response_bytes  # noqa: E402
from keras_inpaint.serving.server_timing import HEADER, read_server_timing  # noqa: E402

SETTINGS = {
    "full": {"sizes": (256, 512), "runs": 20},
    "quick": {"sizes": (256, 512), "runs": 3},
    "tiny": {"sizes": (32, 64), "runs": 3},
}
TARGETS = {"json": 3.0, "png": 1.3}
# Untimed calls of each function before the timed runs.
WARMUP = 2


def _encode(body):
    return json.dumps(body, separators=(",", ":")).encode("ascii")


def cases(size, model_name="model", seed=0):
    """`{kind: (request, signature name, in-process inputs)}` for one size.

    The request is the body bytes for `json` and `png`, a `PredictRequest` to
    `model_name` for `grpc`.
    """
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
    pixels = {IMAGE: image[None], MASK: mask[None, :, :, None]}
    return {
        "json": (_encode(client.instances_request(image[None], mask[None])), SIGNATURE, pixels),
        "grpc": (_predict_request(model_name, pixels), SIGNATURE, pixels),
        "png": (
            _encode(client.bytes_request([png_image], [png_mask])),
            BYTES_SIGNATURE,
            {IMAGE_BYTES: np.array([png_image], object), MASK_BYTES: np.array([png_mask], object)},
        ),
    }


def _predict_request(model_name, pixels):
    """A gRPC `PredictRequest` of uint8 `pixels` in `tensor_content`, as TF Serving clients send."""
    from tensorflow_serving.apis import predict_pb2

    from keras_inpaint.serving.tf_serving_messages import DATA_TYPES

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    for name, array in pixels.items():
        tensor = request.inputs[name]
        tensor.dtype = DATA_TYPES["DT_UINT8"]
        tensor.tensor_content = np.ascontiguousarray(array, np.uint8).tobytes()
        for size in array.shape:
            tensor.tensor_shape.dim.add(size=size)
    return request


def native_parse(body):
    """The request's pixel lists as uint8 arrays, parsed and flattened in C++ (simdjson)."""
    import simdjson

    parser = simdjson.Parser()  # the parsed document lives in the parser
    instances = parser.parse(body)["instances"]
    return [
        np.frombuffer(instance[key].as_buffer(of_type="u"), np.uint64).astype(np.uint8)
        for instance in instances
        for key in instance.keys()
    ]


class GrpcConnection:
    """One gRPC channel that sends a `PredictRequest` and returns the answer's size in bytes."""

    def __init__(self, port):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=120)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)

    def post(self, request):
        return self.stub.Predict(request, timeout=300).ByteSize()

    def close(self):
        self.channel.close()


class Connection:
    """One keep-alive connection that posts a body and reads the whole answer.

    The server closes a connection idle for 5 s (while the gRPC case runs): the
    next post then opens a new one (the untimed first post of each case). The
    `Server-Timing` stages of each answer are appended to `stages`.
    """

    def __init__(self, port, path):
        self.path = path
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.stages = []

    def post(self, body):
        headers = {"Content-Type": "application/json"}
        try:
            self.connection.request("POST", self.path, body, headers)
            answer = self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.connection.close()
            self.connection.request("POST", self.path, body, headers)
            answer = self.connection.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"HTTP {answer.status}: {data[:300]!r}")
        self.stages.append(read_server_timing(answer.headers.get_all(HEADER) or []))
        return data

    def close(self):
        self.connection.close()


def where_the_time_went(stages, request_ms):
    """`stages_ms`, `handoff_ms` and `http_ms` from the answers' `Server-Timing` stages."""
    names = sorted({name for answer in stages for name in answer})
    medians = {
        name: round(statistics.median(answer[name] for answer in stages if name in answer), 2)
        for name in names
    }
    handoffs = [
        answer["total"] - sum(ms for name, ms in answer.items() if name != "total")
        for answer in stages
        if "total" in answer
    ]
    return {
        "stages_ms": medians,
        "handoff_ms": round(statistics.median(handoffs), 2) if handoffs else None,
        "http_ms": round(request_ms - medians["total"], 2) if "total" in medians else None,
    }


def measure(model_dir, setting, runs, server_port, grpc_port):
    """The result rows: every size and kind, request vs in-process."""
    import tensorflow as tf

    from keras_inpaint.serving.server import latest_version

    signatures = tf.saved_model.load(str(latest_version(model_dir)[1])).signatures
    rest = Connection(server_port, f"/v1/models/{model_dir.name}:predict")
    grpc = GrpcConnection(grpc_port)
    rows = []
    try:
        for size in SETTINGS[setting]["sizes"]:
            for kind, (body, name, inputs) in cases(size, model_dir.name).items():
                function = signatures[name]
                tensors = {key: tf.constant(value) for key, value in inputs.items()}
                connection = grpc if kind == "grpc" else rest
                answer = connection.post(body)
                rest.stages.clear()

                def call(function=function, tensors=tensors):
                    return {key: value.numpy() for key, value in function(**tensors).items()}

                functions = {"request": lambda post=connection.post, body=body: post(body)}
                functions["in_process"] = call
                if kind == "json":
                    outputs = call()
                    functions["native_parse"] = lambda body=body: native_parse(body)
                    functions["native_encode"] = lambda outputs=outputs: predict_response_bytes(
                        outputs, ROW
                    )
                seconds = interleaved_medians(functions, runs, warmup=WARMUP)
                row = {
                    "kind": kind,
                    "size": size,
                    "request_bytes": body.ByteSize() if kind == "grpc" else len(body),
                    "answer_bytes": answer if kind == "grpc" else len(answer),
                    "request_ms": round(1000 * seconds["request"], 2),
                    "in_process_ms": round(1000 * seconds["in_process"], 2),
                    "ratio": round(seconds["request"] / seconds["in_process"], 2),
                }
                if kind in TARGETS:
                    row["target"] = TARGETS[kind]
                if kind == "json":
                    native = seconds["native_parse"] + seconds["native_encode"]
                    row["native_parse_ms"] = round(1000 * seconds["native_parse"], 2)
                    row["native_encode_ms"] = round(1000 * seconds["native_encode"], 2)
                    row["anchor_ratio"] = round(1 + native / seconds["in_process"], 2)
                if kind != "grpc":
                    row.update(where_the_time_went(rest.stages[WARMUP:], row["request_ms"]))
                rows.append(row)
                log(json.dumps(rows[-1]))
    finally:
        rest.close()
        grpc.close()
    return rows


def _add_arguments(parser):
    parser.add_argument("--model-dir", help="serve this export (<base>/<name>) instead")
    parser.add_argument("--runs", type=int, help="alternating runs per case")


def main():
    setting, args = parse_setting(__doc__.split("\n\n")[0], _add_arguments)
    runs = args.runs or SETTINGS[setting]["runs"]

    from keras_inpaint.serving.local_server import LocalServer, free_port

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="serving-overhead-") as scratch:
        if args.model_dir:
            model_dir, description = Path(args.model_dir), f"export {args.model_dir}"
        else:
            log(f"exporting the {setting} model ...")
            model_dir, description = export_model(setting, Path(scratch) / "exports")
        log("starting keras-inpaint serve on 127.0.0.1 (one worker, gRPC too) ...")
        grpc_port = free_port()
        log_path = Path(scratch) / "server.log"
        with LocalServer([model_dir], log_path=log_path, workers=1, grpc_port=grpc_port) as server:
            rows = measure(model_dir, setting, runs, server.port, grpc_port)
    result = {
        "benchmark": "serving_overhead",
        "setting": setting,
        "runs": runs,
        "results": rows,
        "model": description,
        "server": "keras-inpaint serve --workers 1 --grpc-port, default limits, on 127.0.0.1",
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
