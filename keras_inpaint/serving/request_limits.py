"""Work limits per predict request, checked in the HTTP process before any model work.

A request's cost grows with its pixels, not its bytes: a 33 kB PNG can hold a
2048x2048 image. So the HTTP process reads each image's size, from the nested
JSON lists of `serving_default` or from the header of each `{"b64": ...}` PNG,
JPEG, GIF, BMP or WebP file of `inpaint_bytes` (no pixel is decoded; the formats
TensorFlow's `decode_image` reads), and refuses

- more than `max_batch` images in one request,
- more than `max_pixels` pixels (height x width, summed over the images),

with HTTP 413 and a message naming the limit and the `keras-inpaint serve`
option that raises it. Files whose header it cannot read are left to the
model, which refuses them with its own message.

It also turns JSON pixel lists into compact numpy arrays (uint8 when every
value fits), so what travels to the inference worker is the size of the
pixels rather than tens of bytes per number.

Example:
    >>> limits = RequestLimits(max_batch=4, max_pixels=100)
    >>> limits.check({"instances": [{"image": [[[0, 0, 0]] * 5] * 5, "mask": [[[0]] * 5] * 5}]})
    (1, 25)
"""

import base64
import binascii
import struct

import numpy as np

from keras_inpaint.contract import DEFAULT_MAX_SIDE

DEFAULT_MAX_BATCH = 32
# One image at the export's default largest side.
DEFAULT_MAX_PIXELS = DEFAULT_MAX_SIDE * DEFAULT_MAX_SIDE


class RequestTooLarge(ValueError):
    """A request over a work limit; `status` is the HTTP status to answer (413)."""

    status = 413


def png_size(data):
    """`(width, height)` from a PNG file's IHDR chunk, or None when `data` is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


# JPEG start-of-frame markers (baseline, progressive, lossless, ...), not DHT/JPG/DAC.
_SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_size(data):
    """`(width, height)` from a JPEG file's start-of-frame segment, or None."""
    if data[:2] != b"\xff\xd8":
        return None
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker in _SOF_MARKERS:
            if offset + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return width, height
        offset += 2 + length
    return None


def gif_size(data):
    """`(width, height)` of a GIF's logical screen, or None."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 10:
        return None
    return struct.unpack("<HH", data[6:10])


def bmp_size(data):
    """`(width, height)` from a BMP's info header, or None."""
    if data[:2] != b"BM" or len(data) < 26:
        return None
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height means top-down rows


def webp_size(data):
    """`(width, height)` from a WebP file's first chunk (lossy, lossless or extended), or None."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        return width, int.from_bytes(data[27:30], "little") + 1
    return None


def image_file_size(data):
    """`(width, height)` of a PNG, JPEG, GIF, BMP or WebP file from its header; None if unknown."""
    for reader in (png_size, jpeg_size, gif_size, bmp_size, webp_size):
        size = reader(data)
        if size is not None:
            return size
    return None


def _b64_pixels(value):
    """Pixels of a `{"b64": ...}` image file; 0 when its header cannot be read."""
    try:
        data = base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        return 0  # the worker answers with its own message
    size = image_file_size(data)
    return 0 if size is None else size[0] * size[1]


def _list_pixels(value):
    """Height x width of an `[H][W][C]` list or array (0 for anything shallower)."""
    if isinstance(value, np.ndarray):  # read from the body as an array (`pixel_json`)
        return value.shape[0] * value.shape[1] if value.ndim >= 2 else 0
    if isinstance(value, list) and value and isinstance(value[0], list):
        return len(value) * len(value[0])
    return 0


def example_pixels(value):
    """Pixels of one example's input value: a b64 file, or a nested list of pixels."""
    if isinstance(value, dict) and "b64" in value:
        return _b64_pixels(value)
    return _list_pixels(value)


def _instance_pixels(instance):
    # An instance is one input value or an object of named inputs (image and mask):
    # the largest names the example's size (the mask repeats the image's).
    if isinstance(instance, dict) and "b64" not in instance:
        return max((example_pixels(value) for value in instance.values()), default=0)
    return example_pixels(instance)


def _is_example(value):
    """Whether `value` is one example: a file (`{"b64": ...}` or a string) or `[H][W][C]` lists."""
    if isinstance(value, (dict, str)):
        return not isinstance(value, dict) or "b64" in value
    if isinstance(value, np.ndarray):  # `pixel_json` arrays have no empty dimension
        return value.ndim >= 3
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], list)
        and (bool(value[0]) and isinstance(value[0][0], list))
    )


def _columns(inputs):
    """The batched values of a columnar `inputs` whose entries are examples.

    A column of another shape (an image without its batch axis) is not counted:
    the worker refuses it with a message about its shape.
    """
    if isinstance(inputs, dict) and "b64" not in inputs:
        columns = [value for value in inputs.values() if isinstance(value, list | np.ndarray)]
    else:
        columns = [inputs] if isinstance(inputs, list | np.ndarray) else []
    return [column for column in columns if len(column) and _is_example(column[0])]


def count_work(body):
    """`(batch size, pixels)` of a predict body; `(0, 0)` for a body of another shape."""
    if not isinstance(body, dict):
        return 0, 0
    instances = body.get("instances")
    if isinstance(instances, list):
        return len(instances), sum(_instance_pixels(item) for item in instances)
    columns = _columns(body.get("inputs"))
    if not columns:
        return 0, 0
    batch = max(len(column) for column in columns)
    per_example = [sum(example_pixels(item) for item in column) for column in columns]
    return batch, max(per_example)


def compact(value):
    """A JSON list of numbers -> a numpy array (uint8 when all values fit); else `value`.

    Lists that are ragged, empty, or hold anything but numbers stay as they are,
    so the worker's checks give their usual messages.
    """
    if not isinstance(value, list) or not value:
        return value
    try:
        array = np.asarray(value)
    except (ValueError, OverflowError):
        return value
    if array.dtype.kind in "iu":
        if array.min() >= 0 and array.max() <= 255:
            return array.astype(np.uint8)
        return array
    return array if array.dtype.kind in "bf" else value


def compact_array(array):
    """A numpy array as `compact` reads the same values from JSON lists.

    Integers within 0-255 as uint8, other integers as int64, other numbers as
    float64; an empty array as `compact` leaves its lists.

    Example:
        >>> compact_array(np.array([[3, 200]], np.int32)).dtype
        dtype('uint8')
        >>> compact_array(np.zeros((0,), np.uint8))
        []
    """
    if array.size == 0:
        return compact(array.tolist())
    if array.dtype.kind in "iu":
        in_range = array.min() >= 0 and array.max() <= 255
        return array.astype(np.uint8 if in_range else np.int64, copy=False)
    return array.astype(np.float64, copy=False)


def compact_body(body):
    """Replace the pixel lists of a predict body by compact arrays, in place; returns `body`."""
    if not isinstance(body, dict):
        return body
    instances = body.get("instances")
    if isinstance(instances, list):
        for index, item in enumerate(instances):
            if isinstance(item, dict):
                for name in list(item):
                    item[name] = compact(item[name])
            else:
                instances[index] = compact(item)
    inputs = body.get("inputs")
    if isinstance(inputs, dict):
        for name in list(inputs):
            inputs[name] = compact(inputs[name])
    elif isinstance(inputs, list):
        body["inputs"] = compact(inputs)
    return body


class RequestLimits:
    """The per-request work limits of a server.

    Args:
        max_batch: most images in one request (`--max-batch-size`).
        max_pixels: most pixels (height x width summed over the images) in one
            request (`--max-pixels`).
    """

    def __init__(self, max_batch=DEFAULT_MAX_BATCH, max_pixels=DEFAULT_MAX_PIXELS):
        if int(max_batch) < 1:
            raise ValueError(f"max_batch must be at least 1; got {max_batch}")
        if int(max_pixels) < 1:
            raise ValueError(f"max_pixels must be at least 1; got {max_pixels}")
        self.max_batch = int(max_batch)
        self.max_pixels = int(max_pixels)

    def check(self, body):
        """`(batch, pixels)` of `body`; raises `RequestTooLarge` over a limit."""
        batch, pixels = count_work(body)
        if batch > self.max_batch:
            raise RequestTooLarge(
                f"the request has {batch} images; this server takes at most {self.max_batch} "
                "per request (keras-inpaint serve --max-batch-size): send fewer per request"
            )
        if pixels > self.max_pixels:
            raise RequestTooLarge(
                f"the request has {pixels} pixels (height x width summed over its images); "
                f"this server takes at most {self.max_pixels} per request (keras-inpaint "
                "serve --max-pixels): send fewer or smaller images per request"
            )
        return batch, pixels
