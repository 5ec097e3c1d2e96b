"""The warmup file: PredictionLog records that parse back and run against the export."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from keras_inpaint.export import WARMUP_FILE, read_warmup_requests


@pytest.mark.parametrize("rule, size", [("fixed", 32), ("dynamic", 64)])
def test_warmup_requests_parse_and_run_against_the_export(tiny_exports, rule, size):
    _, export_dir, loaded = tiny_exports[rule]
    assert (export_dir / WARMUP_FILE).is_file()
    # TF Serving reads the file as TFRecords of PredictionLog; read it the same way.
    raw = [record.numpy() for record in tf.data.TFRecordDataset(str(export_dir / WARMUP_FILE))]
    logs = [prediction_log_pb2.PredictionLog.FromString(record) for record in raw]
    assert logs == read_warmup_requests(export_dir)
    assert [log.WhichOneof("log_type") for log in logs] == ["predict_log", "predict_log"]
    requests = [log.predict_log.request for log in logs]
    assert [r.model_spec.name for r in requests] == [export_dir.parent.name] * 2
    assert [r.model_spec.signature_name for r in requests] == ["serving_default", "inpaint_bytes"]

    outputs = []
    for request in requests:
        inputs = {key: tf.make_ndarray(value) for key, value in request.inputs.items()}
        signature = loaded.signatures[request.model_spec.signature_name]
        outputs.append(signature(**{key: tf.constant(v) for key, v in inputs.items()}))
    image, mask = (tf.make_ndarray(requests[0].inputs[key]) for key in ("image", "mask"))
    assert image.shape == (1, size, size, 3) and mask.shape == (1, size, size, 1)
    assert mask.any() and not mask.all()
    inpainted = outputs[0]["inpainted"].numpy()
    assert inpainted.shape == image.shape and inpainted.dtype == np.uint8
    png = tf.io.decode_png(outputs[1]["inpainted_bytes"].numpy()[0]).numpy()
    np.testing.assert_array_equal(png, inpainted[0])
