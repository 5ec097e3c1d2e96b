"""SavedModel export for TF Serving."""

from keras_inpaint.export.saved_model import (
    SIGNATURE,
    export_saved_model,
    load_inpainter,
    next_version,
    serving_function,
)

__all__ = ["SIGNATURE", "export_saved_model", "load_inpainter", "next_version", "serving_function"]
