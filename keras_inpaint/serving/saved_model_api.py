"""`SavedModelAPI`: one SavedModel version behind TF Serving's predict endpoint, in LitServe."""

import os
import pickle
import time
from pathlib import Path

import litserve
from fastapi import HTTPException
from fastapi.responses import Response

from keras_inpaint.op_errors import op_error_message
from keras_inpaint.serving.memory import IdleRelease, freeze_startup_objects, paused_gc
from keras_inpaint.serving.request_body import read_predict_body
from keras_inpaint.serving.request_limits import RequestLimits, RequestTooLarge
from keras_inpaint.serving.rest_protocol import parse_predict_body, predict_response_bytes
from keras_inpaint.serving.server_timing import HEADER, milliseconds_since, server_timing


def pid_file(pid_dir, worker_id):
    """The file that holds the process id of worker `worker_id` of a model."""
    return Path(pid_dir) / f"worker-{int(worker_id)}.pid"


# The media type of an answer given as pickled numpy outputs (`{"answer": "arrays"}`
# requests: the gRPC service's, in this server's own HTTP process).
ARRAYS_MEDIA_TYPE = "application/x-keras-inpaint-arrays"

# Once idle after a request of this many pixels or more, the worker returns freed memory
# to the system (a 1024x1024 request leaves a few hundred MB in malloc's arenas otherwise).
LARGE_REQUEST_PIXELS = 512 * 512


class SavedModelAPI(litserve.LitAPI):
    """Serve `POST /v1/models/<name>:predict` for one SavedModel version folder.

    Runs in a LitServe inference worker: `setup` loads the SavedModel there,
    `decode_request` turns a TF Serving REST body (row or columnar, any signature,
    `{"b64": ...}` strings; parsed and limited by `predict_route` in the HTTP
    process, or here for a large body that came as bytes) into tensors checked
    against the signature,
    `predict` calls the signature and `encode_response` writes the TF Serving
    answer (or, for a request with `"answer": "arrays"`, the outputs pickled as
    numpy arrays, `ARRAYS_MEDIA_TYPE`). Bad requests are answered with HTTP 400
    and the reason. Answers carry the worker's stages in a `Server-Timing`
    header (`server_timing`).

    Args:
        model_name: the name in the URL.
        version_dir: the SavedModel folder (`<base>/<name>/<version>`).
        version: the version number reported by the status endpoint.
        threads: TensorFlow threads of the worker (all cores when None).
        pid_dir: a folder where each worker writes its process id (`pid_file`).
        limits: the `RequestLimits` that bodies which come as bytes are checked against.
        niceness: added to each worker's nice value (a lower CPU priority), so
            that these workers give way to others, e.g. large requests to small ones.
        path: the URL path (the model's predict URL by default).

    Example:
    ```python
    api = SavedModelAPI("quickstart", "exports/quickstart/1", 1)
    litserve.LitServer(api, accelerator="cpu").run(host="127.0.0.1", port=8501)
    ```
    """

    def __init__(
        self,
        model_name,
        version_dir,
        version,
        threads=None,
        pid_dir=None,
        limits=None,
        niceness=0,
        path=None,
    ):
        super().__init__(api_path=path or f"/v1/models/{model_name}:predict")
        self.model_name = model_name
        self.version_dir = str(version_dir)
        self.version = int(version)
        self.threads = None if threads is None else int(threads)
        self.pid_dir = None if pid_dir is None else str(pid_dir)
        self.limits = limits or RequestLimits()
        self.niceness = int(niceness)

    def setup(self, device):
        # TensorFlow is imported here, in the inference worker, so that the server
        # process (which forks the HTTP workers) never initialises it.
        # oneDNN's own allocator keeps every buffer it ever held (a 2048x2048 request
        # left 1-3 GB resident for good); with the system allocator, freed memory goes
        # back to the system once the worker idles after a large request (`IdleRelease`).
        os.environ.setdefault("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "1")
        if self.niceness:
            os.nice(self.niceness)  # before TensorFlow starts its threads, which inherit it
        import tensorflow as tf

        if self.threads:
            # Several workers share the cores: each gets its part, not all of them.
            tf.config.threading.set_intra_op_parallelism_threads(self.threads)
            tf.config.threading.set_inter_op_parallelism_threads(self.threads)
        self._write_pid()
        self._errors = tf.errors
        self._constant = tf.constant
        self._saved_model = tf.saved_model.load(self.version_dir)
        self._signatures = dict(self._saved_model.signatures)
        self.input_specs = {
            name: {
                key: (spec.dtype.as_numpy_dtype, tuple(spec.shape.as_list()))
                for key, spec in function.structured_input_signature[1].items()
            }
            for name, function in self._signatures.items()
        }
        self._warm_up()
        freeze_startup_objects()  # collections after large requests skip TensorFlow's objects
        self._idle = IdleRelease()

    def _warm_up(self):
        """Replay the export's warmup requests, as TF Serving does when it loads a version.

        A worker's first call is several times slower than the next ones: without
        this, the first request (or the first after a worker was replaced) could
        run past `--timeout`.
        """
        import tensorflow as tf

        from keras_inpaint.export.warmup import WARMUP_FILE, read_warmup_requests

        if not (Path(self.version_dir) / WARMUP_FILE).is_file():
            return
        for log in read_warmup_requests(self.version_dir):
            request = log.predict_log.request
            inputs = {key: tf.make_ndarray(value) for key, value in request.inputs.items()}
            self._signatures[request.model_spec.signature_name](**inputs)

    def _write_pid(self):
        # The HTTP process stops a worker whose request ran past its deadline by this
        # pid (`predict_route`); LitServe names the worker in LITSERVE_WORKER_ID.
        if self.pid_dir is not None:
            worker = os.environ.get("LITSERVE_WORKER_ID", "0")
            pid_file(self.pid_dir, worker).write_text(str(os.getpid()))

    def decode_request(self, request):
        """`{"body": parsed JSON body, "pixels": its pixel count}` or `{"raw": body bytes}`
        -> checked numpy inputs."""
        start = time.perf_counter()
        self._idle.started()
        if "raw" in request:
            body, pixels = self._read_raw(request.pop("raw"))
        else:
            body, pixels = request.pop("body"), request.get("pixels", 0)
        try:
            name, inputs, layout = parse_predict_body(body, self.input_specs)
        except ValueError as error:
            self._after(pixels)
            raise HTTPException(status_code=400, detail=str(error)) from None
        timing = {"parse": milliseconds_since(start)}
        return {
            "name": name,
            "inputs": inputs,
            "layout": "arrays" if request.get("answer") == "arrays" else layout,
            "pixels": pixels,
            "timing": timing,
        }

    def _read_raw(self, data):
        """`(body, pixels)` of body bytes, checked as `predict_route` checks small ones.

        Its pixels count as large whatever they are: parsing a large body leaves
        memory to give back.
        """
        try:
            body, pixels = read_predict_body(data, self.limits)
        except RequestTooLarge as error:
            self._after(LARGE_REQUEST_PIXELS)
            raise HTTPException(status_code=error.status, detail=str(error)) from None
        except ValueError as error:
            self._after(LARGE_REQUEST_PIXELS)
            raise HTTPException(status_code=400, detail=str(error)) from None
        return body, max(pixels, LARGE_REQUEST_PIXELS)

    def predict(self, x):
        # LitServe keeps its arguments referenced until the next request: the
        # inputs are popped so that their memory is freed as soon as they are used.
        inputs, pixels = x.pop("inputs"), x["pixels"]
        start = time.perf_counter()
        try:
            outputs = self._signatures[x["name"]](
                **{key: self._constant(value) for key, value in inputs.items()}
            )
        except self._errors.InvalidArgumentError as error:
            self._after(pixels)
            raise HTTPException(status_code=400, detail=op_error_message(error)) from None
        finally:
            del inputs
        outputs = {key: value.numpy() for key, value in outputs.items()}
        timing = {**x["timing"], "model": milliseconds_since(start)}
        return {"outputs": outputs, "layout": x["layout"], "pixels": pixels, "timing": timing}

    def encode_response(self, output) -> Response:
        outputs, timing = output.pop("outputs"), output["timing"]
        start = time.perf_counter()
        try:
            with paused_gc():
                if output["layout"] == "arrays":
                    body, media_type = pickle.dumps(outputs, protocol=5), ARRAYS_MEDIA_TYPE
                else:
                    body = predict_response_bytes(outputs, output["layout"])
                    media_type = "application/json"
                del outputs
        finally:
            self._after(output["pixels"])
        timing["encode"] = milliseconds_since(start)
        headers = {HEADER: server_timing(timing)}
        return Response(content=body, media_type=media_type, headers=headers)

    def _after(self, pixels):
        """A request has ended: a large one's freed memory goes back once the worker idles."""
        self._idle.finished(large=pixels >= LARGE_REQUEST_PIXELS)
