"""The Open Inference Protocol's (KServe v2) REST routes of `keras-inpaint serve`.

Beside TF Serving's `/v1/...` routes, the server answers

- `GET /v2/health/live` and `GET /v2/health/ready` (every model's workers loaded);
- `GET /v2` (server metadata);
- `GET /v2/models/<name>[/versions/<v>]` (model metadata) and `.../ready`;
- `POST /v2/models/<name>[/versions/<v>]/infer` (`keras_inpaint.serving.open_inference`).

An infer request goes through the model's `PredictRoute` as the TF Serving
body it amounts to: the same limits, lanes, deadline and messages. Errors
are `{"error": message}` with the v1 route's status.

Example:
    $ curl http://127.0.0.1:8501/v2/models/quickstart
"""

from importlib.metadata import PackageNotFoundError, version

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from keras_inpaint.serving import open_inference

SERVER_NAME = "keras-inpaint"


def _package_version():
    try:
        return version("keras-inpaint")
    except PackageNotFoundError:
        return "unknown"


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


class OpenInferenceModel:
    """One served model seen through the Open Inference Protocol.

    Args:
        name: the model's name in URLs.
        version: the version served.
        route: its `PredictRoute`.
        ready: a function returning whether its workers are loaded.
    """

    def __init__(self, name, version, route, ready):
        self.name, self.version, self.route, self.ready = name, int(version), route, ready

    def wrong_version(self, requested):
        """A 404 response when `requested` (a URL part) is not the version served, else None."""
        if requested is None or requested == str(self.version):
            return None
        return _error(
            404,
            f"model '{self.name}' has no version {requested} here; this server serves "
            f"version {self.version} (GET /v2/models/{self.name})",
        )

    async def infer(self, request: Request, requested_version=None):
        """`POST .../infer`: the request through the v1 route, its answer in v2 form."""
        wrong = self.wrong_version(requested_version)
        if wrong is not None:
            return wrong
        data = await request.body()
        try:
            header, binary = open_inference.split_body(
                data, request.headers.get(open_inference.HEADER_LENGTH)
            )
            body, signature = open_inference.predict_body(header, binary)
            open_inference.check_requested_outputs(header, signature)
        except ValueError as error:
            return _error(400, str(error))
        del data, binary
        answer = await self.route.answer(body)
        if answer.status_code != 200:
            return answer
        content, header_length = open_inference.infer_response(
            orjson.loads(answer.body), header, signature, self.name, self.version
        )
        if header_length is None:
            return Response(content, media_type="application/json")
        return Response(
            content,
            media_type="application/octet-stream",
            headers={open_inference.HEADER_LENGTH: str(header_length)},
        )


def add_open_inference_routes(app, models):
    """Add the v2 routes for `models` (a list of `OpenInferenceModel`) to FastAPI `app`."""

    async def live():
        return {"live": True}

    async def ready():
        every = all(model.ready() for model in models)
        return JSONResponse({"ready": every}, status_code=200 if every else 503)

    async def server_metadata():
        return {"name": SERVER_NAME, "version": _package_version(), "extensions": []}

    app.add_api_route("/v2/health/live", live, methods=["GET"])
    app.add_api_route("/v2/health/ready", ready, methods=["GET"])
    app.add_api_route("/v2", server_metadata, methods=["GET"])
    for model in models:
        _add_model_routes(app, model)


def _add_model_routes(app, model):
    base = f"/v2/models/{model.name}"

    def metadata():
        return open_inference.model_metadata(model.name, model.version)

    def model_ready():
        is_ready = model.ready()
        return JSONResponse(
            {"name": model.name, "ready": is_ready}, status_code=200 if is_ready else 503
        )

    async def version_metadata(number: str):
        return model.wrong_version(number) or metadata()

    async def version_ready(number: str):
        return model.wrong_version(number) or model_ready()

    async def version_infer(request: Request, number: str):
        return await model.infer(request, number)

    async def infer(request: Request):
        return await model.infer(request)

    app.add_api_route(base, metadata, methods=["GET"])
    app.add_api_route(base + "/ready", model_ready, methods=["GET"])
    app.add_api_route(base + "/infer", infer, methods=["POST"])
    versioned = base + "/versions/{number}"
    app.add_api_route(versioned, version_metadata, methods=["GET"])
    app.add_api_route(versioned + "/ready", version_ready, methods=["GET"])
    app.add_api_route(versioned + "/infer", version_infer, methods=["POST"])
