"""TF Serving's REST v1 model routes besides `:predict`, so its clients work unchanged.

For each served model (https://www.tensorflow.org/tfx/serving/api_rest):

- `GET /v1/models/<name>[/versions/<v>]`: the version served and its state;
- `GET /v1/models/<name>[/versions/<v>]/metadata`: the export's signatures
  (`{"model_spec": ..., "metadata": {"signature_def": {"signature_def": ...}}}`),
  read from its `saved_model.pb` without TensorFlow;
- `POST /v1/models/<name>/versions/<v>:predict`: the model's predict route.

A version other than the one served is answered with 404 naming the served one.

Example:
    $ curl http://127.0.0.1:8501/v1/models/quickstart/metadata
"""

from fastapi import Request
from fastapi.responses import JSONResponse
from google.protobuf import json_format


def status_body(version):
    """`GET /v1/models/<name>`: TF Serving's model status answer for `version`."""
    return {
        "model_version_status": [
            {
                "version": str(version),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }


def metadata_body(name, version, signatures):
    """`GET /v1/models/<name>/metadata`: TF Serving's answer for a `SignatureDefMap`."""
    signature_def = json_format.MessageToDict(
        signatures, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": signature_def},
    }


def add_model_routes(app, name, version, route, signatures):
    """Add the routes above for model `name` at `version`, predicting through `route`."""
    base = f"/v1/models/{name}"

    def wrong_version(requested):
        if requested == str(version):
            return None
        return JSONResponse(
            {
                "error": f"model '{name}' has no version {requested} here; this server "
                f"serves version {version} (GET {base})"
            },
            status_code=404,
        )

    async def status():
        return status_body(version)

    async def metadata():
        return metadata_body(name, version, signatures)

    async def version_status(number: str):
        return wrong_version(number) or status_body(version)

    async def version_metadata(number: str):
        return wrong_version(number) or metadata_body(name, version, signatures)

    async def version_predict(request: Request, number: str):
        return wrong_version(number) or await route(request)

    app.add_api_route(base, status, methods=["GET"])
    app.add_api_route(base + "/metadata", metadata, methods=["GET"])
    app.add_api_route(base + "/versions/{number}", version_status, methods=["GET"])
    app.add_api_route(base + "/versions/{number}/metadata", version_metadata, methods=["GET"])
    app.add_api_route(base + "/versions/{number}:predict", version_predict, methods=["POST"])
