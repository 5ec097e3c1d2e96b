"""The Open Inference Protocol (KServe v2) for an export: requests and answers, as bytes.

KServe, Triton, MLServer and OpenVINO Model Server speak this protocol
(https://github.com/kserve/open-inference-protocol, REST part). An infer
request names its input tensors; the server picks the export's signature
whose inputs they are:

- `image` `[B, H, W, 3]` and `mask` `[B, H, W, 1]`, datatype `UINT8`
  (`serving_default`), answered with `inpainted` `[B, H, W, 3]` `UINT8`;
- `image_bytes` and `mask_bytes` `[B]`, datatype `BYTES`: PNG or JPEG files
  (`inpaint_bytes`), answered with `inpainted_bytes` `[B]` `BYTES` (PNG files).

Tensor data travels as JSON (`"data"`: the values flattened in row-major
order; a `BYTES` element as the base64 text of the file) or, with the binary
tensor extension that Triton's clients use by default, as raw bytes after
the JSON header (`Inference-Header-Content-Length`; `BYTES` elements each
preceded by their length as a 4-byte little-endian integer). Outputs come
back as binary data when the request asks for it (`"binary_data": true` on a
requested output, or `"binary_data_output": true` in the request's
parameters), as JSON otherwise.

The request is handed to the export as a TF Serving REST v1 body
(`predict_body`), so both protocols share the same checks, limits and
messages; `infer_response` turns the v1 answer into the v2 one. Every
problem with a request raises ValueError with a message for the client.

Example:
    >>> request = {"inputs": [
    ...     {"name": "image", "shape": [1, 1, 1, 3], "datatype": "UINT8", "data": [1, 2, 3]},
    ...     {"name": "mask", "shape": [1, 1, 1, 1], "datatype": "UINT8", "data": [255]}]}
    >>> body, signature = predict_body(request, b"")
    >>> signature, json.loads(body)["inputs"]["image"]
    ('serving_default', [[[[1, 2, 3]]]])
"""

import base64
import binascii
import json
import math
import struct

import numpy as np
import orjson

from keras_inpaint import contract

HEADER_LENGTH = "Inference-Header-Content-Length"
DATATYPES = {contract.UINT8: "UINT8", contract.STRING: "BYTES"}
# Shapes as the model metadata gives them (-1: any size).
SHAPES = {
    contract.IMAGE: [-1, -1, -1, 3],
    contract.MASK: [-1, -1, -1, 1],
    contract.INPAINTED: [-1, -1, -1, 3],
    contract.IMAGE_BYTES: [-1],
    contract.MASK_BYTES: [-1],
    contract.INPAINTED_BYTES: [-1],
}
_LENGTH = struct.Struct("<I")


def _tensor_metadata(name, dtype):
    return {"name": name, "datatype": DATATYPES[dtype], "shape": SHAPES[name]}


def model_metadata(name, version):
    """`GET /v2/models/<name>`: the inputs and outputs of both signatures."""
    signatures = contract.SIGNATURES.values()
    return {
        "name": name,
        "versions": [str(version)],
        "platform": "tensorflow_savedmodel",
        "inputs": [_tensor_metadata(*item) for sig in signatures for item in sig.inputs.items()],
        "outputs": [_tensor_metadata(*item) for sig in signatures for item in sig.outputs.items()],
    }


def split_body(data, header_length=None):
    """`(JSON header as a dict, binary data after it)` of an infer request body."""
    if header_length is None:
        header, binary = data, b""
    else:
        try:
            length = int(header_length)
        except ValueError:
            length = -1
        if not 0 <= length <= len(data):
            raise ValueError(
                f"the {HEADER_LENGTH} header must be the byte length of the JSON part of the "
                f"body, between 0 and {len(data)}; got {header_length!r}"
            )
        header, binary = data[:length], data[length:]
    try:
        request = json.loads(header)
    except (ValueError, RecursionError):
        raise ValueError(
            "the infer request is not valid JSON (with binary tensors, send the JSON part's "
            f"length in the {HEADER_LENGTH} header)"
        ) from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise ValueError('an infer request is a JSON object with an "inputs" list of tensors')
    return request, binary


def _signature_of(names):
    for signature, spec in contract.SIGNATURES.items():
        if set(names) == set(spec.inputs):
            return signature, spec
    choices = " or ".join(
        " and ".join(f"'{name}'" for name in spec.inputs) for spec in contract.SIGNATURES.values()
    )
    raise ValueError(f"the request's inputs are {sorted(names)}; send {choices}")


def _shape(tensor, name):
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(type(dim) is int and dim >= 0 for dim in shape):
        raise ValueError(f"input '{name}': \"shape\" must be a list of sizes; got {shape!r}")
    return shape


def _byte_elements(data, name):
    """The elements of a binary `BYTES` tensor: each a 4-byte length, then its bytes."""
    elements, offset = [], 0
    while offset < len(data):
        if offset + 4 > len(data):
            raise ValueError(f"input '{name}': its binary data ends inside an element's length")
        (size,) = _LENGTH.unpack_from(data, offset)
        offset += 4
        if offset + size > len(data):
            raise ValueError(f"input '{name}': its binary data is shorter than its elements")
        elements.append(data[offset : offset + size])
        offset += size
    return elements


def _json_elements(tensor, name, datatype):
    data = tensor.get("data")
    if not isinstance(data, list):
        raise ValueError(f"input '{name}' needs \"data\" (a list) or a binary_data_size parameter")
    flat = np.array(data, dtype=object).ravel().tolist()
    if datatype == "BYTES":
        if not all(isinstance(item, str) for item in flat):
            raise ValueError(f"input '{name}': BYTES data in JSON are base64 strings of files")
        try:
            return [base64.b64decode(item, validate=True) for item in flat]
        except binascii.Error:
            raise ValueError(f"input '{name}': a BYTES element is not valid base64") from None
    return flat


def _tensor_value(tensor, name, datatype, binary):
    """One input tensor -> its TF Serving v1 JSON value: b64 objects, nested lists, or an array.

    Binary pixels stay a uint8 array (written by orjson, `_v1_body_bytes`).
    """
    shape = _shape(tensor, name)
    if binary is None:
        elements = _json_elements(tensor, name, datatype)
    elif datatype == "BYTES":
        elements = _byte_elements(binary, name)
    else:
        elements = np.frombuffer(binary, np.uint8)
    if len(elements) != math.prod(shape):
        raise ValueError(
            f"input '{name}' has {len(elements)} values for its shape {shape} "
            f"({math.prod(shape)} values)"
        )
    if isinstance(elements, np.ndarray):
        return elements.reshape(shape)
    if datatype == "BYTES":
        elements = [{"b64": base64.b64encode(item).decode("ascii")} for item in elements]
    return np.array(elements, dtype=object).reshape(shape).tolist()


def _v1_body_bytes(body, json_numbers):
    """The JSON text of a v1 body whose inputs are arrays, b64 objects or JSON values.

    Numbers that came as JSON (`json_numbers`: any JSON value, NaN included) are
    written by `json`, as they were read; binary pixels, as uint8 arrays, by orjson.
    """
    if json_numbers:
        inputs = {
            key: value.tolist() if isinstance(value, np.ndarray) else value
            for key, value in body["inputs"].items()
        }
        return json.dumps({**body, "inputs": inputs}, separators=(",", ":")).encode()
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def predict_body(request, binary):
    """An infer request (its JSON header and binary part) -> `(v1 body bytes, signature)`."""
    tensors = request["inputs"]
    if not all(isinstance(tensor, dict) and "name" in tensor for tensor in tensors):
        raise ValueError('each input must be an object with "name", "shape", "datatype"')
    names = [tensor["name"] for tensor in tensors]
    if len(set(names)) != len(names):
        raise ValueError(f"the request names an input twice: {names}")
    signature, spec = _signature_of(names)
    offset, inputs, json_numbers = 0, {}, False
    for tensor in tensors:
        name = tensor["name"]
        datatype = DATATYPES[spec.inputs[name]]
        if tensor.get("datatype") != datatype:
            raise ValueError(
                f"input '{name}' has datatype {datatype}; got {tensor.get('datatype')!r}"
            )
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        part = None
        if size is not None:
            if type(size) is not int or size < 0 or offset + size > len(binary):
                raise ValueError(
                    f"input '{name}': binary_data_size {size!r} does not fit the "
                    f"{len(binary) - offset} bytes of binary data left in the body"
                )
            part, offset = binary[offset : offset + size], offset + size
        inputs[name] = _tensor_value(tensor, name, datatype, part)
        json_numbers |= part is None and datatype != "BYTES"
    if offset != len(binary):
        raise ValueError(
            f"the body has {len(binary) - offset} bytes of binary data that no input's "
            "binary_data_size claims"
        )
    body = {"signature_name": signature, "inputs": inputs}
    return _v1_body_bytes(body, json_numbers), signature


def _wants_binary(request, name):
    for output in request.get("outputs") or []:
        if isinstance(output, dict) and output.get("name") == name:
            return bool((output.get("parameters") or {}).get("binary_data", False))
    return bool((request.get("parameters") or {}).get("binary_data_output", False))


def check_requested_outputs(request, signature):
    """Raise ValueError when the request asks for an output `signature` does not have."""
    outputs = contract.SIGNATURES[signature].outputs
    for output in request.get("outputs") or []:
        name = output.get("name") if isinstance(output, dict) else output
        if name not in outputs:
            raise ValueError(
                f"output {name!r} is not an output of this request; ask for {list(outputs)}"
            )


def infer_response(answer, request, signature, name, version):
    """A v1 columnar answer -> `(v2 response body bytes, JSON header length or None)`."""
    output_name = next(iter(contract.SIGNATURES[signature].outputs))
    value = answer["outputs"]
    if signature == contract.BYTES_SIGNATURE:
        files = [base64.b64decode(item["b64"]) for item in value]
        shape, datatype = [len(files)], "BYTES"
    else:
        array = np.asarray(value, dtype=np.uint8)
        shape, datatype = list(array.shape), "UINT8"
    tensor = {"name": output_name, "datatype": datatype, "shape": shape}
    binary = b""
    if _wants_binary(request, output_name):
        if datatype == "BYTES":
            binary = b"".join(_LENGTH.pack(len(item)) + item for item in files)
        else:
            binary = array.tobytes()
        tensor["parameters"] = {"binary_data_size": len(binary)}
    elif datatype == "BYTES":
        tensor["data"] = [base64.b64encode(item).decode("ascii") for item in files]
    else:
        tensor["data"] = array.ravel()
    response = {"model_name": name, "model_version": str(version), "outputs": [tensor]}
    if "id" in request:
        response["id"] = request["id"]
    if isinstance(request.get("id", ""), str):
        header = orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)
    else:  # any JSON value, as `json` read it (orjson writes no NaN, no integer past 64 bits)
        if "data" in tensor and isinstance(tensor["data"], np.ndarray):
            tensor["data"] = tensor["data"].tolist()
        header = json.dumps(response, separators=(",", ":")).encode()
    return header + binary, (len(header) if binary else None)
