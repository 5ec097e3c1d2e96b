"""`SavedModelAPI`: one SavedModel version behind TF Serving's predict endpoint, in LitServe."""

import json
from typing import Any

import litserve
from fastapi import HTTPException
from fastapi.responses import Response
from pydantic import RootModel, model_validator

from keras_inpaint.serving.rest_protocol import (
    check_nesting,
    encode_predict_response,
    op_error_message,
    parse_predict_body,
)


class _PredictBody(RootModel[dict[str, Any]]):
    """The request body: a JSON object, whatever the request's Content-Type says.

    TF Serving reads the body as JSON regardless of the header, and its documented
    curl calls (`curl -d '{...}'`) send form encoding; bodies that did not arrive as
    JSON are parsed here. Bodies nested deeper than any predict body are refused
    here, in the HTTP process, before they reach the inference worker.
    """

    @model_validator(mode="before")
    @classmethod
    def _parse_raw_body(cls, data):
        if isinstance(data, (bytes, str)):
            try:
                data = json.loads(data)
            except RecursionError:
                raise ValueError("the request body nests lists or objects too deeply") from None
        check_nesting(data)
        return data


class SavedModelAPI(litserve.LitAPI):
    """Serve `POST /v1/models/<name>:predict` for one SavedModel version folder.

    Runs in a LitServe inference worker: `setup` loads the SavedModel there,
    `decode_request` turns a TF Serving REST body (row or columnar, any signature,
    `{"b64": ...}` strings) into tensors checked against the signature,
    `predict` calls the signature and `encode_response` writes the TF Serving
    answer. Bad requests are answered with HTTP 400 and the reason.

    Args:
        model_name: the name in the URL.
        version_dir: the SavedModel folder (`<base>/<name>/<version>`).
        version: the version number reported by the status endpoint.

    Example:
    ```python
    api = SavedModelAPI("quickstart", "exports/quickstart/1", 1)
    litserve.LitServer(api, accelerator="cpu").run(host="127.0.0.1", port=8501)
    ```
    """

    def __init__(self, model_name, version_dir, version):
        super().__init__(api_path=f"/v1/models/{model_name}:predict")
        self.model_name = model_name
        self.version_dir = str(version_dir)
        self.version = int(version)

    def setup(self, device):
        # TensorFlow is imported here, in the inference worker, so that the server
        # process (which forks the HTTP workers) never initialises it.
        import tensorflow as tf

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

    def decode_request(self, request: _PredictBody):
        try:
            return parse_predict_body(request.root, self.input_specs)
        except ValueError as error:
            raise HTTPException(status_code=400, detail=str(error)) from None

    def predict(self, x):
        name, inputs, layout = x
        try:
            outputs = self._signatures[name](
                **{key: self._constant(value) for key, value in inputs.items()}
            )
        except self._errors.InvalidArgumentError as error:
            raise HTTPException(status_code=400, detail=op_error_message(error)) from None
        return {key: value.numpy() for key, value in outputs.items()}, layout

    def encode_response(self, output) -> Response:
        outputs, layout = output
        body = json.dumps(encode_predict_response(outputs, layout), separators=(",", ":"))
        return Response(content=body, media_type="application/json")
