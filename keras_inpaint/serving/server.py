"""`keras-inpaint serve`: TF Serving's REST API for exported models, without Docker.

Built on LitServe (a maintained model-serving library: worker processes,
request queueing, payload limits, timeouts); this module only says which
routes exist and how errors read. Inference worker processes (`--workers`,
by default one per core as memory allows; with two or more, one is kept for
small requests and the others run large ones at a lower CPU priority) load the
highest numbered version under `<base>/<name>/` and answer

- `POST /v1/models/<name>:predict`: row (`instances`) and columnar (`inputs`)
  bodies, `signature_name`, `{"b64": ...}` inputs and `*_bytes` outputs;
- `GET /v1/models/<name>[/versions/<v>]`, `.../metadata` and
  `POST /v1/models/<name>/versions/<v>:predict` (`tf_serving_routes`);
- `GET /`: the inpainting page (`keras_inpaint.serving.page_route`);
- the Open Inference Protocol's (KServe v2) `/v2/...` routes
  (`keras_inpaint.serving.open_inference_routes`), through the same predict route;

errors are `{"error": message}` with a 4xx status (400 bad body, 404 unknown
model or path, 405 wrong method, 408 request not received in time, 413 body
over the size limit or request over a work limit: images or pixels, 431
headers too large), 500 for a failure of the model itself, 503 when the queue
is full (with `Retry-After`), 504 at the time limit
(`keras_inpaint.serving.predict_route`). Slow or stalled clients are
disconnected (`keras_inpaint.serving.slow_clients`) without holding up others.

Example:
    $ keras-inpaint serve --model-dir exports/quickstart --port 8501
"""

import os
import re
import shutil
import signal
import tempfile
from pathlib import Path

import litserve
from fastapi import Request
from fastapi.responses import JSONResponse
from litserve.utils import WorkerSetupStatus
from starlette.exceptions import HTTPException

from keras_inpaint.model_names import check_model_name
from keras_inpaint.serving.grpc_service import (
    GrpcModel,
    PredictionService,
    add_grpc_server,
    signature_def_map,
)
from keras_inpaint.serving.memory import (
    default_workers,
    freeze_startup_objects,
    threads_per_worker,
)
from keras_inpaint.serving.open_inference_routes import (
    OpenInferenceModel,
    add_open_inference_routes,
)
from keras_inpaint.serving.page_route import mount_page
from keras_inpaint.serving.predict_route import Lane, PredictRoute
from keras_inpaint.serving.request_limits import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_PIXELS,
    RequestLimits,
)
from keras_inpaint.serving.saved_model_api import SavedModelAPI
from keras_inpaint.serving.slow_clients import guarded_protocol
from keras_inpaint.serving.tf_serving_routes import add_model_routes

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT = 120.0
DEFAULT_REQUEST_READ_TIMEOUT = 60.0
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_CONNECTIONS = 1000
# Requests per model that may wait for a worker, beyond those running.
DEFAULT_MAX_QUEUE = 64
# Added to the nice value of the workers of large requests: when they and a small
# request's worker want the same core, the small one gets about 90 % of it.
LARGE_LANE_NICENESS = 10
# Seconds an idle keep-alive connection stays open (uvicorn's default, made explicit).
KEEP_ALIVE_SECONDS = 5


def latest_version(model_dir):
    """`(version, folder)` of the highest numbered SavedModel version under `model_dir`."""
    # Read here rather than with keras_inpaint.export, which would load TensorFlow
    # into the HTTP process.
    model_dir = Path(model_dir)
    if (model_dir / "saved_model.pb").is_file():
        raise FileNotFoundError(
            f"{model_dir} is a version folder; pass the model folder above it "
            f"({model_dir.parent}), as TF Serving's --model_base_path."
        )
    if not model_dir.is_dir():
        raise FileNotFoundError(f"{model_dir} does not exist; pass <base>/<name> of an export.")
    versions = sorted(
        (int(child.name), child)
        for child in model_dir.iterdir()
        if re.fullmatch(r"\d+", child.name) and (child / "saved_model.pb").is_file()
    )
    if not versions:
        raise FileNotFoundError(
            f"{model_dir} holds no version folder (1/, 2/, ...) with a saved_model.pb; "
            "write one with `keras-inpaint export`."
        )
    return versions[-1]


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


def _not_found_message(path, names):
    served = ", ".join(f"'{name}'" for name in names)
    match = re.fullmatch(r"/v[12]/models/([^/:]+)(?:/.*|:\w+)?", path)
    if match and match.group(1) not in names:
        return f"model '{match.group(1)}' is not served here; this server serves {served}"
    return (
        f"no endpoint {path}; this server answers POST /v1/models/<name>:predict, "
        "GET /v1/models/<name> (TF Serving REST) and POST /v2/models/<name>/infer, "
        f"GET /v2/models/<name> (Open Inference Protocol) for {served}"
    )


def _remove_route(server, path):
    """Remove LitServe's own endpoint at `path`."""
    routes = server.app.router.routes
    routes[:] = [item for item in routes if getattr(item, "path", None) != path]


def _replace_predict_route(server, path, route):
    """Answer `path` with `route` instead of LitServe's own endpoint."""
    _remove_route(server, path)

    async def predict(request: Request):
        return await route(request)

    server.app.add_api_route(path, predict, methods=["POST"])


def _lanes(name, folder, version, workers, threads, limits):
    """`(small, large)` `Lane`s of one model: one lane of all workers when there is one.

    With more than one worker, the small lane gets one and the large lane the
    rest, at `LARGE_LANE_NICENESS` (`predict_route` says which request takes which).
    """

    def api(path=None, niceness=0):
        return SavedModelAPI(
            name,
            folder,
            version,
            threads=threads,
            pid_dir=tempfile.mkdtemp(),
            limits=limits,
            niceness=niceness,
            path=path,
        )

    if workers == 1:
        return Lane(api(), 1), None
    # LitServe names a worker by the last part of its path: unique per model.
    large = api(path=f"/lanes/{name}:large", niceness=LARGE_LANE_NICENESS)
    return Lane(api(), 1), Lane(large, workers - 1)


def _workers_ready(server, api_paths):
    """A function telling whether every worker of the lanes at `api_paths` has loaded."""
    # LitServe keys a worker's state by the last part of its path and its number.
    prefixes = tuple(f"{path.split('/')[-1]}_" for path in api_paths)

    def ready():
        states = [
            state
            for worker, state in server.workers_setup_status.items()
            if worker.startswith(prefixes)
        ]
        return bool(states) and all(state == WorkerSetupStatus.READY for state in states)

    return ready


def build_server(
    model_dirs,
    max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
    timeout=DEFAULT_TIMEOUT,
    workers=None,
    max_batch=DEFAULT_MAX_BATCH,
    max_pixels=DEFAULT_MAX_PIXELS,
    max_queue=DEFAULT_MAX_QUEUE,
    grpc_address=None,
):
    """A `litserve.LitServer` for the latest version of each model folder, and those versions.

    Returns `(server, {name: (version, folder)})`; `server.run(...)` serves.

    Args:
        model_dirs: model folders `<base>/<name>`; the URL name is the folder name.
        max_request_bytes: larger request bodies are refused with HTTP 413.
        timeout: seconds from a request's arrival to HTTP 504.
        workers: inference worker processes per model (`memory.default_workers`
            when None: one per core, as many as memory holds, at most 4 in all);
            with two or more, one takes small requests and the others large ones
            (`predict_route`).
        max_batch: most images per request (HTTP 413 above).
        max_pixels: most pixels per request, summed over its images (HTTP 413 above).
        max_queue: requests per model that may wait for a worker; more get HTTP 503.
        grpc_address: `host:port` for TF Serving's gRPC PredictionService
            (`grpc_service`); none when None.
    """
    model_dirs = [Path(path) for path in model_dirs]
    # The URL name is the folder name: the export's naming rule applies to it too.
    names = [
        check_model_name(path.name, fix=f"rename the model folder {path}") for path in model_dirs
    ]
    if len(set(names)) != len(names):
        raise ValueError(f"two model folders have the same name: {names}")
    versions = {path.name: latest_version(path) for path in model_dirs}
    workers = default_workers(len(versions)) if workers is None else int(workers)
    if workers < 1 or int(max_queue) < 0:
        raise ValueError(
            f"workers must be at least 1 and max_queue at least 0; got {workers}, {max_queue}"
        )
    threads = threads_per_worker(workers * len(versions))
    limits = RequestLimits(max_batch, max_pixels)
    lanes = {
        name: _lanes(name, folder, number, workers, threads, limits)
        for name, (number, folder) in versions.items()
    }
    every_lane = [lane for pair in lanes.values() for lane in pair if lane is not None]
    server = litserve.LitServer(
        [lane.api for lane in every_lane],
        accelerator="cpu",
        workers_per_device={lane.api.api_path: lane.workers for lane in every_lane},
        # LitServe's workers skip requests whose time ran out while queued.
        timeout=timeout,
        # A worker killed at a request's deadline (predict_route) is started again.
        restart_workers=True,
        max_payload_size=int(max_request_bytes),
        disable_openapi_url=True,
    )
    open_inference_models, grpc_models = [], {}
    for name, (small, large) in lanes.items():
        route = PredictRoute(server, small, large, limits, timeout, max_queue)
        _replace_predict_route(server, small.api.api_path, route)
        if large is not None:
            _remove_route(server, large.api.api_path)  # reached through `route` only
        number, folder = versions[name]
        ready = _workers_ready(server, [lane.api.api_path for lane in (small, large) if lane])
        open_inference_models.append(OpenInferenceModel(name, number, route, ready))
        signatures = signature_def_map(folder)
        add_model_routes(server.app, name, number, route, signatures)
        grpc_models[name] = GrpcModel(name, number, route, signatures)
    add_open_inference_routes(server.app, open_inference_models)
    if grpc_address is not None:
        add_grpc_server(server.app, PredictionService(grpc_models), grpc_address)
    mount_page(server, versions, limits, max_request_bytes)  # the page at /

    async def http_error(request: Request, error: HTTPException):
        if error.status_code == 404:
            return _error(404, _not_found_message(request.url.path, names))
        if error.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}")
        if error.status_code == 413:
            return _error(
                413,
                f"the request body is over this server's limit of {max_request_bytes} bytes "
                '(keras-inpaint serve --max-request-bytes); send {"b64": ...} PNG or JPEG '
                "files (signature inpaint_bytes) or fewer images per request",
            )
        if error.status_code == 400 and error.detail == "There was an error parsing the body":
            # FastAPI's words for a body that made the JSON parser fail in another way
            # than a syntax error (nesting too deep for Python's parser).
            return _error(
                400,
                "the request body could not be read as JSON (nested too deeply?); send "
                '{"instances": [...]} or {"inputs": {...}} with images as [H][W][C] lists',
            )
        return _error(error.status_code, str(error.detail))

    server.app.add_exception_handler(HTTPException, http_error)
    return server, versions


def _stop_on_sigterm(server_pid):
    # LitServe shuts its workers down on KeyboardInterrupt; SIGTERM (docker stop,
    # systemd, test harnesses) takes the same path. Processes forked from the
    # server inherit this handler: they get SIGTERM's default back.
    def handler(signum, frame):
        if os.getpid() == server_pid:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    return handler


def _raise_open_file_limit(connections):
    # Each connection is a file descriptor; a soft limit of 1024 (common) would
    # refuse connections before `max_connections` answers them with 503.
    try:
        import resource
    except ImportError:  # not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 256  # the server's own files, queues and worker pipes
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _grpc_host(host):
    # gRPC writes IPv6 addresses in brackets.
    return f"[{host}]" if ":" in host else host


def serve(
    model_dirs,
    host=DEFAULT_HOST,
    port=DEFAULT_PORT,
    max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
    timeout=DEFAULT_TIMEOUT,
    request_read_timeout=DEFAULT_REQUEST_READ_TIMEOUT,
    max_header_bytes=DEFAULT_MAX_HEADER_BYTES,
    max_connections=DEFAULT_MAX_CONNECTIONS,
    workers=None,
    max_batch=DEFAULT_MAX_BATCH,
    max_pixels=DEFAULT_MAX_PIXELS,
    max_queue=DEFAULT_MAX_QUEUE,
    grpc_port=None,
):
    """Serve `model_dirs` on `host:port` until interrupted (Ctrl+C or SIGTERM).

    `host` is `127.0.0.1` (this machine only, the default), `0.0.0.0` or `::`
    (every interface: put it behind something that authenticates).

    Args:
        model_dirs: model folders `<base>/<name>` (see `build_server`).
        host: the address to listen on.
        port: the TCP port.
        max_request_bytes: larger request bodies get HTTP 413.
        timeout: seconds from a request's arrival (its whole body) to HTTP 504.
        request_read_timeout: seconds a client has to send one whole request
            (headers and body) from its first byte; a slower one gets HTTP 408
            and is disconnected.
        max_header_bytes: most bytes of request line and headers (HTTP 431 above).
        max_connections: open connections at most; more get HTTP 503.
        workers, max_batch, max_pixels, max_queue: see `build_server`.
        grpc_port: also answer TF Serving's gRPC PredictionService on `host:grpc_port`.

    Example:
    ```python
    serve(["exports/quickstart"], port=8501)  # blocks; Ctrl+C stops it
    ```
    """
    if int(max_connections) < 1:
        raise ValueError(f"max_connections must be at least 1; got {max_connections}")
    protocol = guarded_protocol(request_read_timeout, max_header_bytes)
    grpc_address = None if grpc_port is None else f"{_grpc_host(host)}:{int(grpc_port)}"
    server, versions = build_server(
        model_dirs,
        max_request_bytes,
        timeout,
        workers,
        max_batch,
        max_pixels,
        max_queue,
        grpc_address,
    )
    for name, (number, folder) in versions.items():
        print(
            f"serving {name} version {number} ({folder}) at "
            f"http://{host}:{port}/v1/models/{name}:predict"
            + ("" if grpc_address is None else f" and gRPC {grpc_address}"),
            flush=True,
        )
    _raise_open_file_limit(int(max_connections))
    signal.signal(signal.SIGTERM, _stop_on_sigterm(os.getpid()))
    freeze_startup_objects()  # the HTTP process is forked from this one: it inherits this
    try:
        server.run(
            host=host,
            port=int(port),
            num_api_servers=1,
            generate_client_file=False,
            log_level="warning",
            http=protocol,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            limit_concurrency=int(max_connections),
        )
    finally:
        for api in server.litapi_connector:
            shutil.rmtree(api.pid_dir, ignore_errors=True)
