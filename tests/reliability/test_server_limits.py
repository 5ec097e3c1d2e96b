"""`keras-inpaint serve` bounds the work one request may cost: too many images or pixels
(read from PNG/JPEG headers, before decoding) get 413 naming the option to raise; a full
queue gets 503 with Retry-After; a request past `--timeout` gets 504 and the worker running
it is replaced; large requests leave no memory behind."""

import base64
import io
import threading
import time

import numpy as np
import pytest
from PIL import Image
from reliability.server_support import SMALL, post, worker_pids
from serving.serving_support import photo_and_hole
from test_case import tiny_context_encoder

from keras_inpaint.cli import build_parser
from keras_inpaint.export import export_saved_model
from keras_inpaint.serving import client, memory
from keras_inpaint.serving.local_server import LocalServer
from keras_inpaint.serving.request_limits import (
    RequestLimits,
    RequestTooLarge,
    compact,
    count_work,
    image_file_size,
)

TIMEOUT = 5.0
MAX_BATCH = 4
MAX_PIXELS = 4 * 2048 * 2048  # room for a request of several seconds' work


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A tiled tiny model (a 2048x2048 all-hole image is seconds of work), one worker, no queue."""
    base = tmp_path_factory.mktemp("limits")
    export_saved_model(tiny_context_encoder(name="ce"), base, name="ce")
    options = {"workers": 1, "timeout": TIMEOUT, "max_batch": MAX_BATCH, "max_queue": 0}
    options["max_pixels"] = MAX_PIXELS
    with LocalServer([base / "ce"], log_path=base / "server.log", **options) as local:
        yield local


def encoded(width, height, format_="PNG", **options):
    """A black image file of `width` x `height` (a few kB at any size)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format=format_, **options)
    return buffer.getvalue()


def files_body(images, masks):
    b64 = [{"b64": base64.b64encode(data).decode()} for data in images + masks]
    count = len(images)
    return {
        "signature_name": "inpaint_bytes",
        "inputs": {"image_bytes": b64[:count], "mask_bytes": b64[count:]},
    }


# Reading sizes and counting work, without a server.


@pytest.mark.parametrize(
    ("format_", "options"),
    [
        ("PNG", {}),
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("JPEG", {"exif": b"Exif\x00\x00" + b"\x00" * 30000}),  # SOF after a long APP1
        ("GIF", {}),
        ("BMP", {}),
        ("WEBP", {}),
        ("WEBP", {"lossless": True}),
        ("WEBP", {"exif": b"Exif\x00\x00" + b"\x00" * 100}),  # extended (VP8X)
    ],
)
def test_image_sizes_are_read_from_file_headers(format_, options):
    assert image_file_size(encoded(1234, 567, format_, **options)) == (1234, 567)


def test_unknown_or_broken_files_have_no_size():
    png = encoded(64, 32)
    for data in (b"", b"not an image", png[:20], b"\xff\xd8\xff\xe0\x00"):
        assert image_file_size(data) is None


def test_work_is_counted_in_both_layouts_and_both_signatures():
    image = np.zeros((3, 20, 30, 3), np.uint8)
    mask = np.zeros((3, 20, 30, 1), np.uint8)
    assert count_work(client.instances_request(image, mask[..., 0])) == (3, 1800)
    assert count_work(client.inputs_request(image, mask[..., 0])) == (3, 1800)
    files = [encoded(100, 50)] * 2
    assert count_work(files_body(files, files)) == (2, 10000)
    assert count_work(client.bytes_request(files, files)) == (2, 10000)
    with pytest.raises(RequestTooLarge, match="--max-pixels"):
        RequestLimits(max_pixels=9999).check(files_body(files, files))
    with pytest.raises(RequestTooLarge, match="--max-batch-size"):
        RequestLimits(max_batch=1).check(files_body(files, files))


def test_pixel_lists_become_compact_arrays_only_when_nothing_is_lost():
    assert compact([[[0, 255]]]).dtype == np.uint8
    assert compact([[1, 300]]).dtype == np.int64  # the worker refuses 300 by name
    assert compact([[0.5, 1.0]]).dtype == np.float64  # refused as floats
    for kept in ([[1, 2], [3]], [["a"]], [[None]], [], [[2**70]]):
        assert compact(kept) is kept


def test_default_workers_follow_cores_and_memory():
    gib = 1024**3
    assert memory.default_workers(1, cores=2, memory=24 * gib) == 2
    assert memory.default_workers(1, cores=16, memory=64 * gib) == memory.MAX_DEFAULT_WORKERS
    assert memory.default_workers(1, cores=8, memory=3 * gib) == 1
    assert memory.default_workers(2, cores=2, memory=24 * gib) == 1
    assert memory.threads_per_worker(2, cores=2) == 1
    assert memory.threads_per_worker(1, cores=4) == 4


def test_the_serve_command_has_the_limit_options():
    args = build_parser().parse_args(
        ["serve", "--model-dir", "m", "--workers", "3", "--max-batch-size", "8"]
        + ["--max-pixels", "1000", "--max-queue", "5"]
    )
    assert (args.workers, args.max_batch_size, args.max_pixels, args.max_queue) == (3, 8, 1000, 5)


# Against a running server.


@pytest.mark.large
def test_more_images_than_the_batch_limit_get_413_naming_the_option(served):
    image, mask = photo_and_hole(MAX_BATCH + 1, 8, 8)
    for body in (
        client.instances_request(image, mask),
        files_body([encoded(8, 8)] * (MAX_BATCH + 1), [encoded(8, 8)] * (MAX_BATCH + 1)),
    ):
        status, _, answer = post(served, body)
        assert status == 413, answer
        assert f"at most {MAX_BATCH}" in answer["error"] and "--max-batch-size" in answer["error"]


@pytest.mark.large
def test_more_pixels_than_the_limit_get_413_from_the_file_headers(served):
    big_png = encoded(4097, 4096)  # a column over the limit, a few kB
    big_jpeg = encoded(4097, 4096, "JPEG")
    two = encoded(2897, 2897)  # each under the limit, together over it
    for images in ([big_png], [big_jpeg], [two, two]):
        status, _, answer = post(served, files_body(images, images))
        assert status == 413, answer
        assert f"at most {MAX_PIXELS}" in answer["error"] and "--max-pixels" in answer["error"]


@pytest.mark.large
def test_a_wrong_layout_gets_400_naming_the_input_and_its_shape(served):
    image, mask = photo_and_hole(1, 16, 16)
    # Built by hand: the Python client refuses such a mask before sending it.
    body = {"inputs": {"image": image.tolist(), "mask": np.repeat(mask, 3, axis=-1).tolist()}}
    status, _, answer = post(served, body)
    assert status == 400
    assert answer["error"].startswith("input 'mask' must have shape [-1, -1, -1, 1]"), answer


@pytest.mark.large
def test_large_requests_leave_no_memory_behind(served):
    image, mask = photo_and_hole(1, 640, 640, seed=2)
    large_json = client.instances_request(image, mask)
    side = 1024
    hole = np.zeros((side, side), np.uint8)
    hole[256:768, 256:768] = 1
    large_file = client.bytes_request([np.full((side, side, 3), 90, np.uint8)], [hole])
    assert post(served, SMALL)[0] == 200
    start = served.rss()
    for _ in range(2):
        assert post(served, large_json)[0] == 200
        assert post(served, large_file)[0] == 200
    # A worker gives the memory back once idle for a second. Loose: malloc
    # keeps some pages; without the release it is hundreds of MB more.
    deadline = time.monotonic() + memory.IDLE_RELEASE_SECONDS + 30
    while (after := served.rss()) > start * 1.15 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert after <= start * 1.15, f"RSS {start / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB"


@pytest.mark.large
def test_a_full_queue_gets_503_and_a_late_request_504_and_its_worker_is_replaced(served):
    side = 2048  # the most pixels allowed, all hole: far more work than the timeout
    slow_body = client.bytes_request(
        [np.zeros((side, side, 3), np.uint8)] * 4, [np.ones((side, side), np.uint8)] * 4
    )
    workers_before = set(worker_pids(served))
    assert len(workers_before) == 1
    outcome = {}
    slow = threading.Thread(target=lambda: outcome.update(answer=post(served, slow_body)))
    slow.start()
    time.sleep(0.5)  # its few kB have arrived: it holds the worker
    # One worker, no queue: while the slow request runs, the next one is refused.
    busy = None
    while slow.is_alive() and busy is None:
        status, headers, answer = post(served, SMALL)
        if status == 503:
            busy = headers, answer
        time.sleep(0.05)
    assert busy is not None, "no request was refused while the worker was busy"
    headers, answer = busy
    assert int(headers["Retry-After"]) >= 1 and "--max-queue" in answer["error"]
    slow.join(120)
    status, _, answer = outcome["answer"]
    assert status == 504 and "--timeout" in answer["error"], answer
    # The worker that ran it is gone at once; a fresh one serves the next requests.
    assert not workers_before & set(worker_pids(served))
    deadline = time.monotonic() + 120
    while post(served, SMALL)[0] != 200:
        assert time.monotonic() < deadline, served.log_tail()
        time.sleep(0.5)
    assert len(worker_pids(served)) == 1
