"""TF Serving's gRPC `PredictionService` (Predict, GetModelMetadata) in `keras-inpaint serve`.

TF Serving's clients often call its gRPC port (8500) through the stubs of
`tensorflow-serving-api` (`prediction_service_pb2_grpc.PredictionServiceStub`).
`keras-inpaint serve --grpc-port 8500` answers them on the same host as the
REST API (127.0.0.1 unless `--host` says otherwise), in the HTTP process's
event loop:

- `Predict`: the request's `TensorProto` inputs become the TF Serving REST body
  they amount to, already read into numpy arrays as the REST route reads one
  (`request_body`), answered by the model's `PredictRoute` (the same limits,
  lanes, deadline and messages) with the signature's output arrays
  (`answer_arrays`: no JSON either way), which become `TensorProto` outputs
  (`uint8` as `tensor_content`, files as `string_val`); `output_filter` picks
  outputs;
- `GetModelMetadata` (`metadata_field: "signature_def"`): the export's
  `SignatureDefMap`, read from its `saved_model.pb`.

A bad request ends with `INVALID_ARGUMENT`, an unknown model or version with
`NOT_FOUND`, a request over a work limit with `RESOURCE_EXHAUSTED`, a full
queue with `UNAVAILABLE` and the time limit with `DEADLINE_EXCEEDED`, each with
the REST route's message. The messages come from
`keras_inpaint.serving.tf_serving_messages`, which needs no TensorFlow.

Example (a client, with tensorflow-serving-api):
```python
import grpc
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel("localhost:8500"))
```
"""

import base64
import contextlib
import pickle
from pathlib import Path

import grpc
import numpy as np
import orjson

from keras_inpaint import contract
from keras_inpaint.serving.predict_route import LARGE_BODY_BYTES
from keras_inpaint.serving.request_limits import compact_array
from keras_inpaint.serving.tf_serving_messages import DATA_TYPES, MESSAGES

SERVICE = "tensorflow.serving.PredictionService"
_NUMPY_TYPES = {
    DATA_TYPES["DT_UINT8"]: np.uint8,
    DATA_TYPES["DT_INT8"]: np.int8,
    DATA_TYPES["DT_INT16"]: np.int16,
    DATA_TYPES["DT_INT32"]: np.int32,
    DATA_TYPES["DT_INT64"]: np.int64,
    DATA_TYPES["DT_FLOAT"]: np.float32,
    DATA_TYPES["DT_DOUBLE"]: np.float64,
}
# The REST route's HTTP status -> the gRPC status TF Serving gives for the same problem.
_STATUS_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def signature_def_map(version_dir):
    """The `SignatureDefMap` of the `serve` graph of the SavedModel in `version_dir`."""
    saved_model = MESSAGES["tensorflow.SavedModel"].FromString(
        (Path(version_dir) / "saved_model.pb").read_bytes()
    )
    signatures = MESSAGES["tensorflow.serving.SignatureDefMap"]()
    for graph in saved_model.meta_graphs:
        if "serve" in graph.meta_info_def.tags:
            for name, signature in graph.signature_def.items():
                signatures.signature_def[name].CopyFrom(signature)
    return signatures


class BadRequest(ValueError):
    """A request the service refuses; `code` is the gRPC status."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def tensor_value(tensor, name):
    """A `TensorProto` -> its REST v1 value: an array of its shape, or `{"b64": ...}` files."""
    shape = [dim.size for dim in tensor.tensor_shape.dim]
    if tensor.dtype == DATA_TYPES["DT_STRING"]:
        files = [{"b64": base64.b64encode(item).decode("ascii")} for item in tensor.string_val]
        values = np.array(files, dtype=object)
    elif tensor.dtype in _NUMPY_TYPES:
        dtype = _NUMPY_TYPES[tensor.dtype]
        if tensor.tensor_content:
            values = np.frombuffer(tensor.tensor_content, dtype)
        else:
            stored = tensor.float_val if dtype in (np.float32, np.float64) else tensor.int_val
            values = np.array(tensor.int64_val if dtype == np.int64 else stored, dtype)
    else:
        raise BadRequest(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"input '{name}' has a dtype ({tensor.dtype}) this server does not read; send "
            "DT_UINT8 pixels or DT_STRING files",
        )
    if values.size == 1 and np.prod(shape) > 1:
        values = np.repeat(values, int(np.prod(shape)))  # a constant tensor, stored once
    if values.size != int(np.prod(shape)):
        raise BadRequest(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"input '{name}' has {values.size} values for its shape {shape}",
        )
    values = values.reshape(shape)
    return values.tolist() if values.dtype == object or values.ndim == 0 else values


def request_body(signature, inputs):
    """The REST v1 columnar body of `inputs` (`tensor_value`s), as the REST route reads one.

    What `parse_body` and `compact_body` make of the same values written as
    JSON: integers within 0-255 as uint8 arrays, other integers as int64 and
    other numbers as float64 arrays, empty tensors as `compact` leaves their
    lists; files and scalars as they are. `PredictRoute.answer_arrays` takes it.
    """
    inputs = {
        name: compact_array(value) if isinstance(value, np.ndarray) else value
        for name, value in inputs.items()
    }
    return {"signature_name": signature, "inputs": inputs}


def output_tensor(array, binary):
    """A signature's output array -> a `TensorProto`: files (`binary`) or uint8 pixels."""
    tensor = MESSAGES["tensorflow.TensorProto"]()
    if binary:
        tensor.dtype = DATA_TYPES["DT_STRING"]
        tensor.string_val.extend(bytes(item) for item in np.ravel(array))
    else:
        tensor.dtype = DATA_TYPES["DT_UINT8"]
        tensor.tensor_content = np.ascontiguousarray(array, np.uint8).tobytes()
    for size in np.shape(array):
        tensor.tensor_shape.dim.add(size=size)
    return tensor


class GrpcModel:
    """One served model: its version, its `PredictRoute` and its `SignatureDefMap`."""

    def __init__(self, name, version, route, signatures):
        self.name, self.version, self.route = name, int(version), route
        self.signatures = signatures


class PredictionService:
    """The `PredictionService` methods for `models` (`{name: GrpcModel}`)."""

    def __init__(self, models):
        self.models = models

    def _model(self, spec):
        model = self.models.get(spec.name)
        if model is None:
            raise BadRequest(
                grpc.StatusCode.NOT_FOUND,
                f"model '{spec.name}' is not served here; this server serves "
                + ", ".join(f"'{name}'" for name in self.models),
            )
        if spec.HasField("version") and spec.version.value != model.version:
            raise BadRequest(
                grpc.StatusCode.NOT_FOUND,
                f"model '{spec.name}' has no version {spec.version.value} here; this server "
                f"serves version {model.version}",
            )
        return model

    def _spec(self, model, signature_name=""):
        spec = MESSAGES["tensorflow.serving.ModelSpec"](
            name=model.name, signature_name=signature_name
        )
        spec.version.value = model.version
        return spec

    async def predict(self, request, context):
        try:
            model = self._model(request.model_spec)
            signature = request.model_spec.signature_name or contract.SIGNATURE
            outputs = contract.SIGNATURES.get(signature, contract.Signature({}, {})).outputs
            unknown = [name for name in request.output_filter if name not in outputs]
            if unknown:
                raise BadRequest(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"output_filter names {unknown}, not outputs of '{signature}' "
                    f"({list(outputs)})",
                )
            inputs = {name: tensor_value(value, name) for name, value in request.inputs.items()}
        except BadRequest as error:
            await context.abort(error.code, str(error))
        body = request_body(signature, inputs)
        del inputs
        large = request.ByteSize() >= LARGE_BODY_BYTES
        answer = await model.route.answer_arrays(body, large=large)
        if answer.status_code != 200:
            code = _STATUS_CODES.get(answer.status_code, grpc.StatusCode.INTERNAL)
            await context.abort(code, orjson.loads(answer.body)["error"])
        # Pickled by this server's own worker (`SavedModelAPI.encode_response`).
        arrays = pickle.loads(answer.body)
        response = MESSAGES["tensorflow.serving.PredictResponse"]()
        response.model_spec.CopyFrom(self._spec(model, signature))
        for name, output in arrays.items():
            if not request.output_filter or name in request.output_filter:
                tensor = output_tensor(output, binary=outputs[name] == contract.STRING)
                response.outputs[name].CopyFrom(tensor)
        return response

    async def get_model_metadata(self, request, context):
        try:
            model = self._model(request.model_spec)
            fields = list(request.metadata_field)
            if fields != ["signature_def"]:
                raise BadRequest(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"metadata_field must be ['signature_def'] (the only metadata); got {fields}",
                )
        except BadRequest as error:
            await context.abort(error.code, str(error))
        response = MESSAGES["tensorflow.serving.GetModelMetadataResponse"]()
        response.model_spec.CopyFrom(self._spec(model))
        response.metadata["signature_def"].Pack(model.signatures)
        return response

    def handler(self):
        """The generic gRPC handler serving both methods under TF Serving's service name."""

        def method(function, request_type, response_type):
            return grpc.unary_unary_rpc_method_handler(
                function,
                request_deserializer=MESSAGES[request_type].FromString,
                response_serializer=MESSAGES[response_type].SerializeToString,
            )

        serving = "tensorflow.serving."
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Predict": method(
                    self.predict, serving + "PredictRequest", serving + "PredictResponse"
                ),
                "GetModelMetadata": method(
                    self.get_model_metadata,
                    serving + "GetModelMetadataRequest",
                    serving + "GetModelMetadataResponse",
                ),
            },
        )


def add_grpc_server(app, service, address):
    """Run `service` on `address` (`host:port`) while FastAPI `app` runs, in its event loop.

    The server starts and stops inside the app's lifespan (LitServe's app has its
    own, which runs first), in whichever process serves the app.
    """
    app_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_):
        async with app_lifespan(app_) as state:
            server = grpc.aio.server()
            server.add_generic_rpc_handlers((service.handler(),))
            try:
                server.add_insecure_port(address)
            except RuntimeError as error:
                raise RuntimeError(f"cannot listen for gRPC on {address} ({error})") from None
            await server.start()
            try:
                yield state
            finally:
                await server.stop(grace=1.0)

    app.router.lifespan_context = lifespan
