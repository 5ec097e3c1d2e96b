"""TF Serving warmup requests: `assets.extra/tf_serving_warmup_requests` in each export.

TF Serving replays these PredictionLog records when it loads a version, before
the version is marked available, so the first real request does not pay for
graph initialisation. The records are built with the `tensorflow-serving-api`
protos, one request per signature at a size the export accepts.

Example:
    >>> from keras_inpaint.export.warmup import read_warmup_requests
    >>> logs = read_warmup_requests("exports/quickstart/1")   # doctest: +SKIP
    >>> [log.predict_log.request.model_spec.signature_name for log in logs]  # doctest: +SKIP
    ['serving_default', 'inpaint_bytes']
"""

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from keras_inpaint.contract import (
    BYTES_SIGNATURE,
    IMAGE,
    IMAGE_BYTES,
    MASK,
    MASK_BYTES,
    SIGNATURE,
)

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"


def example_pair(height, width):
    """A smooth uint8 image `(H, W, 3)` and a centred rectangular hole `(H, W, 1)` of 255s."""
    rows, cols = np.meshgrid(np.linspace(0, 255, height), np.linspace(0, 255, width), indexing="ij")
    image = np.stack([rows, cols, (rows + cols) / 2], axis=-1)
    mask = np.zeros((height, width, 1), np.uint8)
    mask[height // 4 : height - height // 4, width // 4 : width - width // 4] = 255
    return image.astype(np.uint8), mask


def _predict_log(model_name, signature_name, inputs):
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
    )
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )


def warmup_logs(model_name, rule):
    """PredictionLog records exercising both signatures at the rule's example size."""
    image, mask = example_pair(*rule.example_size())
    image_file = tf.io.encode_png(image).numpy()
    mask_file = tf.io.encode_png(mask).numpy()
    return [
        _predict_log(model_name, SIGNATURE, {IMAGE: image[None], MASK: mask[None]}),
        _predict_log(
            model_name,
            BYTES_SIGNATURE,
            {
                IMAGE_BYTES: np.array([image_file], dtype=object),
                MASK_BYTES: np.array([mask_file], dtype=object),
            },
        ),
    ]


def write_warmup_requests(export_dir, model_name, rule):
    """Write the warmup TFRecord file into a SavedModel folder; returns its path."""
    path = Path(export_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in warmup_logs(model_name, rule):
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(export_dir):
    """The PredictionLog records of an export's warmup file."""
    records = tf.data.TFRecordDataset(str(Path(export_dir) / WARMUP_FILE))
    return [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in records]
