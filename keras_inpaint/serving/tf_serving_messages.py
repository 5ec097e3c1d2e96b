"""TF Serving's gRPC messages (and a SavedModel's signatures), defined here without TensorFlow.

`tensorflow-serving-api`'s generated modules import TensorFlow's protos,
which import all of TensorFlow (about 700 MB and seconds per process). The
server's HTTP process must not load it, so the few messages that
`keras-inpaint serve --grpc-port` and the `/v1/.../metadata` route need are
declared here, field for field as TF Serving's `.proto` files number them
(https://github.com/tensorflow/serving/tree/master/tensorflow_serving/apis),
in a descriptor pool of their own. On the wire they are TF Serving's
messages; fields left out are skipped when parsing. The same pool reads the
signatures of a `saved_model.pb` (`SavedModel` -> `MetaGraphDef` ->
`signature_def`) without TensorFlow.

Example:
    >>> spec = MESSAGES["tensorflow.serving.ModelSpec"](name="quickstart")
    >>> spec.version.value = 3
    >>> MESSAGES["tensorflow.serving.ModelSpec"].FromString(spec.SerializeToString()).version.value
    3
"""

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, wrappers_pb2
from google.protobuf.message_factory import GetMessageClass

_FIELD = descriptor_pb2.FieldDescriptorProto
_KINDS = {
    "string": _FIELD.TYPE_STRING,
    "bytes": _FIELD.TYPE_BYTES,
    "int32": _FIELD.TYPE_INT32,
    "int64": _FIELD.TYPE_INT64,
    "float": _FIELD.TYPE_FLOAT,
    "bool": _FIELD.TYPE_BOOL,
}

# TensorFlow's DataType numbers (tensorflow/core/framework/types.proto), those used here.
DATA_TYPES = {
    "DT_INVALID": 0,
    "DT_FLOAT": 1,
    "DT_DOUBLE": 2,
    "DT_INT32": 3,
    "DT_UINT8": 4,
    "DT_INT16": 5,
    "DT_INT8": 6,
    "DT_STRING": 7,
    "DT_INT64": 9,
    "DT_BOOL": 10,
    "DT_HALF": 19,
}


def _field(name, number, kind, repeated=False):
    """A field; `kind` is a scalar type name, `enum .Full.Name` or a message's full name."""
    field = _FIELD(name=name, number=number, json_name=_json_name(name))
    field.label = _FIELD.LABEL_REPEATED if repeated else _FIELD.LABEL_OPTIONAL
    if kind in _KINDS:
        field.type = _KINDS[kind]
    elif kind.startswith("enum "):
        field.type, field.type_name = _FIELD.TYPE_ENUM, kind.removeprefix("enum ")
    else:
        field.type, field.type_name = _FIELD.TYPE_MESSAGE, kind
    return field


def _json_name(name):
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _message(name, fields, maps=(), nested=()):
    """A message with `fields`, map fields `(name, number, value kind)` and nested messages."""
    message = descriptor_pb2.DescriptorProto(name=name)
    message.field.extend(fields)
    message.nested_type.extend(nested)
    for field_name, number, value in maps:
        entry = "".join(part.title() for part in field_name.split("_")) + "Entry"
        message.nested_type.append(
            descriptor_pb2.DescriptorProto(
                name=entry,
                field=[_field("key", 1, "string"), _field("value", 2, value)],
                options=descriptor_pb2.MessageOptions(map_entry=True),
            )
        )
        message.field.append(_field(field_name, number, f".{message.name}.{entry}", True))
    return message


def _map_entry_names(file, package):
    # Map entry types are nested: their field's type name needs the package in front.
    for message in file.message_type:
        for field in message.field:
            if field.type_name.startswith(f".{message.name}."):
                field.type_name = f".{package}{field.type_name}"


def _tensorflow_file():
    file = descriptor_pb2.FileDescriptorProto(
        name="keras_inpaint/tensorflow.proto", package="tensorflow", syntax="proto3"
    )
    file.enum_type.append(
        descriptor_pb2.EnumDescriptorProto(
            name="DataType",
            value=[
                descriptor_pb2.EnumValueDescriptorProto(name=name, number=number)
                for name, number in DATA_TYPES.items()
            ],
        )
    )
    dim = _message("Dim", [_field("size", 1, "int64"), _field("name", 2, "string")])
    file.message_type.extend(
        [
            _message(
                "TensorShapeProto",
                [
                    _field("dim", 2, ".tensorflow.TensorShapeProto.Dim", True),
                    _field("unknown_rank", 3, "bool"),
                ],
                nested=[dim],
            ),
            _message(
                "TensorProto",
                [
                    _field("dtype", 1, "enum .tensorflow.DataType"),
                    _field("tensor_shape", 2, ".tensorflow.TensorShapeProto"),
                    _field("version_number", 3, "int32"),
                    _field("tensor_content", 4, "bytes"),
                    _field("float_val", 5, "float", True),
                    _field("int_val", 7, "int32", True),
                    _field("string_val", 8, "bytes", True),
                    _field("int64_val", 10, "int64", True),
                ],
            ),
            _message(
                "TensorInfo",
                [
                    _field("name", 1, "string"),
                    _field("dtype", 2, "enum .tensorflow.DataType"),
                    _field("tensor_shape", 3, ".tensorflow.TensorShapeProto"),
                ],
            ),
            _message(
                "SignatureDef",
                [_field("method_name", 3, "string")],
                maps=[
                    ("inputs", 1, ".tensorflow.TensorInfo"),
                    ("outputs", 2, ".tensorflow.TensorInfo"),
                ],
            ),
            _message(
                "MetaGraphDef",
                [_field("meta_info_def", 1, ".tensorflow.MetaGraphDef.MetaInfoDef")],
                maps=[("signature_def", 5, ".tensorflow.SignatureDef")],
                nested=[_message("MetaInfoDef", [_field("tags", 4, "string", True)])],
            ),
            _message(
                "SavedModel",
                [
                    _field("saved_model_schema_version", 1, "int64"),
                    _field("meta_graphs", 2, ".tensorflow.MetaGraphDef", True),
                ],
            ),
        ]
    )
    _map_entry_names(file, "tensorflow")
    return file


def _serving_file():
    file = descriptor_pb2.FileDescriptorProto(
        name="keras_inpaint/tensorflow_serving.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=[
            "keras_inpaint/tensorflow.proto",
            wrappers_pb2.DESCRIPTOR.name,
            any_pb2.DESCRIPTOR.name,
        ],
    )
    spec = ".tensorflow.serving.ModelSpec"
    file.message_type.extend(
        [
            _message(
                "ModelSpec",
                [
                    _field("name", 1, "string"),
                    _field("version", 2, ".google.protobuf.Int64Value"),
                    _field("signature_name", 3, "string"),
                    _field("version_label", 4, "string"),
                ],
            ),
            _message(
                "PredictRequest",
                [_field("model_spec", 1, spec), _field("output_filter", 3, "string", True)],
                maps=[("inputs", 2, ".tensorflow.TensorProto")],
            ),
            _message(
                "PredictResponse",
                [_field("model_spec", 2, spec)],
                maps=[("outputs", 1, ".tensorflow.TensorProto")],
            ),
            _message(
                "SignatureDefMap", [], maps=[("signature_def", 1, ".tensorflow.SignatureDef")]
            ),
            _message(
                "GetModelMetadataRequest",
                [_field("model_spec", 1, spec), _field("metadata_field", 2, "string", True)],
            ),
            _message(
                "GetModelMetadataResponse",
                [_field("model_spec", 1, spec)],
                maps=[("metadata", 2, ".google.protobuf.Any")],
            ),
        ]
    )
    _map_entry_names(file, "tensorflow.serving")
    return file


def _build():
    pool = descriptor_pool.DescriptorPool()
    for module in (wrappers_pb2, any_pb2):
        pool.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
    files = [_tensorflow_file(), _serving_file()]
    for file in files:
        pool.Add(file)
    names = [f"{file.package}.{message.name}" for file in files for message in file.message_type]
    return pool, {name: GetMessageClass(pool.FindMessageTypeByName(name)) for name in names}


POOL, MESSAGES = _build()
