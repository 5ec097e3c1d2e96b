"""`keras-inpaint serve`: TF Serving's REST API for exported models, without Docker.

Built on LitServe (a maintained model-serving library: worker processes,
request queueing, payload limits, timeouts); this module only says which
routes exist and how errors read. One inference worker per model loads the
highest numbered version under `<base>/<name>/` and answers

- `POST /v1/models/<name>:predict`: row (`instances`) and columnar (`inputs`)
  bodies, `signature_name`, `{"b64": ...}` inputs and `*_bytes` outputs;
- `GET /v1/models/<name>`: the version served and its state;

errors are `{"error": message}` with a 4xx status (400 bad body, 404 unknown
model or path, 413 body over the size limit, 405 wrong method), 500 for a
failure of the model itself, 504 for a request over the time limit.

Example:
    $ keras-inpaint serve --model-dir exports/builtin_64 --port 8501
"""

import os
import re
import signal
from pathlib import Path

import litserve
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from keras_inpaint.serving.saved_model_api import SavedModelAPI

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT = 120.0


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


def _status_body(version):
    return {
        "model_version_status": [
            {
                "version": str(version),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


def _not_found_message(path, names):
    served = ", ".join(f"'{name}'" for name in names)
    match = re.fullmatch(r"/v1/models/([^/:]+)(?:/.*|:\w+)?", path)
    if match and match.group(1) not in names:
        return f"model '{match.group(1)}' is not served here; this server serves {served}"
    return (
        f"no endpoint {path}; this server answers POST /v1/models/<name>:predict and "
        f"GET /v1/models/<name> for {served}"
    )


def _validation_message(error):
    for problem in error.errors():
        if problem.get("type") == "json_invalid" or "JSONDecodeError" in repr(problem.get("ctx")):
            reason = problem.get("ctx", {}).get("error", problem.get("msg"))
            return f"the request body is not valid JSON: {reason}"
    return (
        'the request body must be a JSON object, {"instances": [...]} or {"inputs": {...}}, '
        'with an optional "signature_name"'
    )


def build_server(model_dirs, max_request_bytes=DEFAULT_MAX_REQUEST_BYTES, timeout=DEFAULT_TIMEOUT):
    """A `litserve.LitServer` for the latest version of each model folder, and those versions.

    Returns `(server, {name: (version, folder)})`; `server.run(...)` serves.

    Args:
        model_dirs: model folders `<base>/<name>`; the URL name is the folder name.
        max_request_bytes: larger request bodies are refused with HTTP 413.
        timeout: seconds a request may wait and run before HTTP 504.
    """
    model_dirs = [Path(path) for path in model_dirs]
    names = [path.name for path in model_dirs]
    if len(set(names)) != len(names):
        raise ValueError(f"two model folders have the same name: {names}")
    versions = {path.name: latest_version(path) for path in model_dirs}
    apis = [SavedModelAPI(name, folder, number) for name, (number, folder) in versions.items()]
    server = litserve.LitServer(
        apis,
        accelerator="cpu",
        workers_per_device=1,
        timeout=timeout,
        max_payload_size=int(max_request_bytes),
        disable_openapi_url=True,
    )
    for name, (number, _) in versions.items():

        async def status(number=number):
            return _status_body(number)

        server.app.add_api_route(f"/v1/models/{name}", status, methods=["GET"])

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
        return _error(error.status_code, str(error.detail))

    async def invalid_body(request: Request, error: RequestValidationError):
        return _error(400, _validation_message(error))

    server.app.add_exception_handler(HTTPException, http_error)
    server.app.add_exception_handler(RequestValidationError, invalid_body)
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


def serve(
    model_dirs,
    host=DEFAULT_HOST,
    port=DEFAULT_PORT,
    max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
    timeout=DEFAULT_TIMEOUT,
):
    """Serve `model_dirs` on `host:port` until interrupted (Ctrl+C or SIGTERM).

    `host` is `127.0.0.1` (this machine only, the default), `0.0.0.0` or `::`
    (every interface: put it behind something that authenticates).
    """
    server, versions = build_server(model_dirs, max_request_bytes, timeout)
    for name, (number, folder) in versions.items():
        print(
            f"serving {name} version {number} ({folder}) at "
            f"http://{host}:{port}/v1/models/{name}:predict",
            flush=True,
        )
    signal.signal(signal.SIGTERM, _stop_on_sigterm(os.getpid()))
    server.run(
        host=host,
        port=int(port),
        num_api_servers=1,
        generate_client_file=False,
        log_level="warning",
    )
