"""SavedModel export for TF Serving: signatures, size rules, versions, warmup requests."""

from keras_inpaint.export.saved_model import (
    check_model_name,
    export_name,
    export_saved_model,
    load_inpainter,
    next_version,
    numbered_versions,
)
from keras_inpaint.export.signatures import (
    BYTES_SIGNATURE,
    DEFAULT_MAX_SIDE,
    SIGNATURE,
    bytes_serving_function,
    serving_function,
)
from keras_inpaint.export.size_rule import SizeRule
from keras_inpaint.export.warmup import WARMUP_FILE, read_warmup_requests

__all__ = [
    "BYTES_SIGNATURE",
    "DEFAULT_MAX_SIDE",
    "SIGNATURE",
    "WARMUP_FILE",
    "SizeRule",
    "bytes_serving_function",
    "check_model_name",
    "export_name",
    "export_saved_model",
    "load_inpainter",
    "next_version",
    "numbered_versions",
    "read_warmup_requests",
    "serving_function",
]
