"""Client helpers for TF Serving's REST API: numpy images or files -> request JSON -> pixels.

They work against TF Serving and against `keras-inpaint serve` alike (same
protocol), need only numpy and Pillow (no TensorFlow), and fit a notebook:

```python
import numpy as np
from keras_inpaint.serving import client

image = client.read_image("photo.png")                   # uint8 (H, W, 3)
mask = np.zeros(image.shape[:2], np.uint8)
mask[100:160, 120:200] = 1                                # nonzero = hole
request = client.instances_request(image[None], mask[None])
response = client.predict("http://127.0.0.1:8501", "quickstart", request)
filled = client.decode_response(response)[0]              # uint8 (H, W, 3)

files = client.bytes_request(["photo.png"], ["hole.png"])  # white = hole
pngs = client.decode_response(client.predict("http://127.0.0.1:8501", "quickstart", files))
```

Requests:
- `instances_request` / `inputs_request`: `serving_default` in row / columnar
  format, uint8 pixels as JSON numbers.
- `bytes_request`: `inpaint_bytes`, image and mask files as `{"b64": ...}`
  (numpy arrays are PNG-encoded, paths and bytes sent as they are: PNG or JPEG).
  Much smaller than JSON numbers; the answer is PNG files.
"""

import base64
import io
import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from keras_inpaint.contract import (
    BYTES_SIGNATURE,
    IMAGE,
    IMAGE_BYTES,
    MASK,
    MASK_BYTES,
    SIGNATURE,
)
from keras_inpaint.serving.serving_error import ServingError


def read_image(path):
    """An image file as uint8 `(H, W, 3)` RGB, upright as its EXIF orientation says.

    The same pixels as the server's `inpaint_bytes` decodes from the file, so a
    mask drawn on a phone photo as viewers show it fits both ways.
    """
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def encode_png(pixels):
    """uint8 `(H, W)`, `(H, W, 1)` or `(H, W, 3)` pixels -> PNG file bytes."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise ValueError(f"PNG pixels must be uint8; got {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_image(data):
    """PNG or JPEG file bytes -> uint8 `(H, W, 3)` RGB pixels."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _image_batch(images):
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"images must be a uint8 batch (B, H, W, 3); got shape {images.shape}. Use "
            "image[None] for a single image."
        )
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 pixels in [0, 255]; got {images.dtype}")
    _check_not_unit_range(images)
    return images


def _check_not_unit_range(pixels):
    # An image in [0, 1] cast to uint8 is all 0s and 1s: served, it would come back
    # nearly black with a visible fill; refuse it rather than send it.
    if pixels.size and pixels.max() == 1:
        raise ValueError(
            "the image's pixels are all 0 or 1: an image in [0, 1] cast to uint8? Send "
            "0..255 values: (image * 255).round().astype(np.uint8)"
        )


def _mask_batch(masks, images):
    masks = np.asarray(masks)
    if masks.ndim == 3:
        masks = masks[..., None]
    if masks.shape != images.shape[:3] + (1,):
        raise ValueError(
            f"masks must have shape (B, H, W) or (B, H, W, 1) matching the images "
            f"{images.shape[:3]}; got {masks.shape}"
        )
    return (masks != 0).astype(np.uint8)


def instances_request(images, masks, signature_name=SIGNATURE):
    """`serving_default` request in row format: `{"instances": [{"image", "mask"}, ...]}`.

    Args:
        images: uint8 `(B, H, W, 3)`.
        masks: `(B, H, W)` or `(B, H, W, 1)`, nonzero = hole (bool, 0/1 or 0/255).
        signature_name: the signature to call.
    """
    images = _image_batch(images)
    masks = _mask_batch(masks, images)
    instances = [
        {IMAGE: image.tolist(), MASK: mask.tolist()}
        for image, mask in zip(images, masks, strict=True)
    ]
    return {"signature_name": signature_name, "instances": instances}


def inputs_request(images, masks, signature_name=SIGNATURE):
    """`serving_default` request in columnar format: `{"inputs": {"image": ..., "mask": ...}}`.

    Same arguments as `instances_request`.
    """
    images = _image_batch(images)
    masks = _mask_batch(masks, images)
    return {
        "signature_name": signature_name,
        "inputs": {IMAGE: images.tolist(), MASK: masks.tolist()},
    }


def _file_bytes(item, is_mask):
    if isinstance(item, (str, Path)):
        item = Path(item).read_bytes()
    if isinstance(item, bytes):
        return item
    pixels = np.asarray(item)
    if is_mask:
        # inpaint_bytes reads a mask file as white (> 127) = hole.
        pixels = np.where(pixels != 0, 255, 0).astype(np.uint8)
    elif pixels.dtype == np.uint8:
        _check_not_unit_range(pixels)
    return encode_png(pixels)


def _b64(data):
    return {"b64": base64.b64encode(data).decode("ascii")}


def bytes_request(images, masks, layout="instances"):
    """`inpaint_bytes` request: image and mask files as `{"b64": ...}`.

    Args:
        images: a list of images, each a path, file bytes (PNG or JPEG) or a
            uint8 `(H, W, 3)` array (sent as PNG). Images may differ in size.
        masks: one per image, each a path or file bytes (white = hole) or an
            `(H, W)` / `(H, W, 1)` array (nonzero = hole, sent as PNG).
        layout: `"instances"` (row format) or `"inputs"` (columnar format).

    Files go as they are: `inpaint_bytes` turns a photo upright by its EXIF
    orientation itself. Exports written before it did so take the raw pixels;
    for them send `read_image(path)` arrays, which are upright already.
    """
    if len(images) != len(masks):
        raise ValueError(f"give one mask per image: {len(images)} images, {len(masks)} masks")
    image_files = [_b64(_file_bytes(image, is_mask=False)) for image in images]
    mask_files = [_b64(_file_bytes(mask, is_mask=True)) for mask in masks]
    if layout == "instances":
        instances = [
            {IMAGE_BYTES: image, MASK_BYTES: mask}
            for image, mask in zip(image_files, mask_files, strict=True)
        ]
        return {"signature_name": BYTES_SIGNATURE, "instances": instances}
    if layout == "inputs":
        return {
            "signature_name": BYTES_SIGNATURE,
            "inputs": {IMAGE_BYTES: image_files, MASK_BYTES: mask_files},
        }
    raise ValueError(f"layout must be 'instances' or 'inputs'; got {layout!r}")


def decode_response(response):
    """A predict answer -> uint8 `(B, H, W, 3)` (`serving_default`) or a list of images.

    `{"b64": ...}` values (`inpaint_bytes`' PNG files) are decoded to a list of
    uint8 `(H, W, 3)` arrays, one per image (they may differ in size).
    """
    key = "predictions" if "predictions" in response else "outputs"
    if key not in response:
        raise ValueError(f"not a predict answer: keys {sorted(response)}")
    values = response[key]
    if isinstance(values, dict) or (
        values and isinstance(values[0], dict) and "b64" not in values[0]
    ):
        raise ValueError("the answer has several named outputs; these helpers decode one")
    if values and isinstance(values[0], dict):
        return [decode_image(base64.b64decode(value["b64"])) for value in values]
    return np.asarray(values, dtype=np.uint8)


def _request(url, body=None, timeout=120.0):
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", errors="replace")
        try:
            message = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            message = text
        raise ServingError(error.code, message) from None
    except (urllib.error.URLError, ConnectionError) as error:
        # A server that refuses a body over its size limit (HTTP 413) may answer and close
        # the connection before it has read the whole body: sending it then fails.
        reason = getattr(error, "reason", error)
        if data is None or not isinstance(reason, (BrokenPipeError, ConnectionResetError)):
            raise
        raise ServingError(None, _closed_message(len(data), reason)) from None


def _closed_message(size, reason):
    """Why a server closes the connection while a `size`-byte request is sent, and the fix."""
    return (
        f"the server closed the connection while the {size / 2**20:.1f} MiB request was sent "
        f"({type(reason).__name__}): most likely the request is larger than the server's "
        "limit (HTTP 413; `keras-inpaint serve --max-request-bytes`, 64 MiB by default). "
        'Send {"b64": ...} PNG or JPEG files (client.bytes_request, signature inpaint_bytes) '
        "or fewer images per request, or start the server with a larger --max-request-bytes."
    )


def predict(server, model, request, timeout=120.0):
    """POST `request` to `<server>/v1/models/<model>:predict`; returns the decoded JSON.

    Raises `ServingError` (with the server's message) on an HTTP error, and
    when the server closes the connection while the request is sent (most
    likely a request over its size limit; `status` is then None).
    """
    return _request(f"{server.rstrip('/')}/v1/models/{model}:predict", request, timeout)


def model_status(server, model, timeout=10.0):
    """`GET <server>/v1/models/<model>`: the versions served and their state."""
    return _request(f"{server.rstrip('/')}/v1/models/{model}", timeout=timeout)
