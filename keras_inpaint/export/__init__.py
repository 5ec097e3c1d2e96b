"""Exports: the SavedModel for TF Serving (signatures, size rules, versions, warmup requests),
ONNX for onnxruntime and LiteRT (TensorFlow Lite)."""

from keras_inpaint.contract import BYTES_SIGNATURE, DEFAULT_MAX_SIDE, SIGNATURE
from keras_inpaint.export.litert_export import LITERT_FILE, export_litert
from keras_inpaint.export.onnx_export import ONNX_FILE, export_onnx
from keras_inpaint.export.saved_model import (
    check_model_name,
    export_name,
    export_saved_model,
    is_abandoned_staging,
    load_inpainter,
    next_version,
    numbered_versions,
    remove_abandoned_staging,
)
from keras_inpaint.export.signatures import (
    bytes_serving_function,
    serving_function,
)
from keras_inpaint.export.size_rule import SizeRule
from keras_inpaint.export.warmup import WARMUP_FILE, read_warmup_requests
from keras_inpaint.export_info import EXPORT_INFO_FILE, export_max_side

__all__ = [
    "BYTES_SIGNATURE",
    "DEFAULT_MAX_SIDE",
    "EXPORT_INFO_FILE",
    "LITERT_FILE",
    "ONNX_FILE",
    "SIGNATURE",
    "WARMUP_FILE",
    "SizeRule",
    "bytes_serving_function",
    "check_model_name",
    "export_max_side",
    "export_litert",
    "export_name",
    "export_onnx",
    "export_saved_model",
    "is_abandoned_staging",
    "load_inpainter",
    "next_version",
    "numbered_versions",
    "read_warmup_requests",
    "remove_abandoned_staging",
    "serving_function",
]
