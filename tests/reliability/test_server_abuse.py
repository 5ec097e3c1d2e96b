"""`keras-inpaint serve` under abuse: while a well-behaved client keeps sending predict requests,
oversized bodies, malformed JSON, wrong shapes, huge headers, slow and stalled clients and
connections dropped at every stage get 4xx answers or are closed, and the good client sees
no error and keeps being answered. Also: the server listens on loopback unless told."""

import http.client
import inspect
import json
import socket
import struct
import threading
import time

import numpy as np
import pytest
from serving.serving_support import photo_and_hole
from test_case import tiny_fully_convolutional

from keras_inpaint.cli import build_parser
from keras_inpaint.export import export_saved_model
from keras_inpaint.serving import client, server
from keras_inpaint.serving.local_server import LocalServer

pytestmark = pytest.mark.large

MAX_REQUEST_BYTES = 256 * 1024
READ_TIMEOUT = 2.0
PATH = "/v1/models/fcn:predict"
IMAGE, MASK = photo_and_hole(1, 32, 32, seed=5)
GOOD_BODY = json.dumps(client.instances_request(IMAGE, MASK)).encode()


class GoodClient(threading.Thread):
    """Valid requests back to back on a keep-alive connection; records each outcome."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop, self.done, self.errors = port, threading.Event(), [], []

    def run(self):
        connection = None
        while not self.stop.is_set():
            connection = connection or http.client.HTTPConnection("127.0.0.1", self.port, 60)
            try:
                connection.request("POST", PATH, GOOD_BODY, {"Content-Type": "application/json"})
                answer = connection.getresponse()
                body = answer.read()
            except (OSError, http.client.HTTPException) as error:
                self.errors.append(repr(error))
                connection.close()
                connection = None
                continue
            if answer.status != 200 or not self.well_formed(body):
                self.errors.append(f"HTTP {answer.status}: {body[:200]!r}")
            self.done.append(time.monotonic())
            if answer.will_close:
                connection.close()
                connection = None

    @staticmethod
    def well_formed(body):
        return np.asarray(json.loads(body)["predictions"]).shape == (1, 32, 32, 3)

    def answered_between(self, start, end):
        return sum(start <= when <= end for when in self.done)


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    base = tmp_path_factory.mktemp("abuse")
    export_saved_model(tiny_fully_convolutional(), base, name="fcn")
    options = {"max_request_bytes": MAX_REQUEST_BYTES, "request_read_timeout": READ_TIMEOUT}
    with LocalServer([base / "fcn"], log_path=base / "server.log", **options) as local:
        good = GoodClient(local.port)
        good.start()
        deadline = time.monotonic() + 60
        while len(good.done) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield local, good
        good.stop.set()
        good.join(60)
    assert not good.errors, good.errors[:5]


def request(port, method, path, body=b"", headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body, headers or {})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def read_answer(sock, limit):
    """What the server sends before it closes, within `limit` seconds (b"" when nothing)."""
    sock.settimeout(limit)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        chunks.append(b"<still open>")
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def test_bad_requests_get_4xx_while_the_good_client_is_served(running):
    local, good = running
    start = time.monotonic()
    oversized = b'{"instances": [' + b"0," * MAX_REQUEST_BYTES + b"0]}"
    status, answer = request(local.port, "POST", PATH, oversized)
    assert status == 413 and "--max-request-bytes" in answer["error"]
    status, answer = request(local.port, "POST", PATH, b'{"instances": [{"image": ')
    assert status == 400 and "not valid JSON" in answer["error"]
    wrong_shape = json.dumps({"instances": [{"image": [[1, 2, 3]], "mask": [[0]]}]}).encode()
    status, answer = request(local.port, "POST", PATH, wrong_shape)
    assert status == 400 and "must have shape" in answer["error"]
    for _ in range(20):
        assert request(local.port, "POST", PATH, b"nonsense")[0] == 400
    assert good.answered_between(start, time.monotonic()) > 0
    assert not good.errors, good.errors[:5]


def test_huge_headers_get_431_and_the_connection_is_closed(running):
    local, good = running
    with socket.create_connection(("127.0.0.1", local.port)) as sock:
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\n".encode())
        try:
            for _ in range(200):
                sock.sendall(b"X-Padding: " + b"a" * 4096 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed by the server while sending: the point
        answer = read_answer(sock, 10)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert not good.errors, good.errors[:5]


def test_slow_and_stalled_clients_are_timed_out_without_blocking_others(running):
    local, good = running
    request_head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(GOOD_BODY)}\r\n\r\n"
    slow = [socket.create_connection(("127.0.0.1", local.port)) for _ in range(8)]
    silent = socket.create_connection(("127.0.0.1", local.port))  # connects, sends nothing
    stalled = socket.create_connection(("127.0.0.1", local.port))  # stops mid-body
    stalled.sendall(request_head.encode() + GOOD_BODY[:1000])
    start = time.monotonic()
    # Slowloris: one header byte at a time, well under the read timeout apart.
    payload = request_head.encode()
    sent = 0
    while time.monotonic() - start < READ_TIMEOUT + 1.5 and sent < len(payload):
        for sock in slow:
            try:
                sock.sendall(payload[sent : sent + 1])
            except OSError:
                pass
        sent += 1
        time.sleep(0.1)
    answers = [read_answer(sock, READ_TIMEOUT + 5) for sock in [*slow, silent, stalled]]
    elapsed = time.monotonic() - start
    for sock in [*slow, silent, stalled]:
        sock.close()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"read timeout" in answer
    # Every slow client held its connection for the read timeout, the good client did not wait.
    assert elapsed >= READ_TIMEOUT
    assert good.answered_between(start + 0.2, start + READ_TIMEOUT - 0.2) > 0
    assert not good.errors, good.errors[:5]


def test_connections_dropped_at_every_stage_leave_the_server_serving(running):
    local, good = running
    start = time.monotonic()
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(GOOD_BODY)}\r\n\r\n"
    stages = [b"", head[:20].encode(), head.encode(), head.encode() + GOOD_BODY[:500]]
    stages.append(head.encode() + GOOD_BODY)  # whole request, gone before the answer
    for round_ in range(40):
        for stage in stages:
            sock = socket.create_connection(("127.0.0.1", local.port))
            if round_ % 2:  # reset (RST) rather than a clean close
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if stage:
                sock.sendall(stage)
            sock.close()
    time.sleep(0.5)
    status, answer = request(local.port, "GET", "/v1/models/fcn")
    assert status == 200 and answer["model_version_status"][0]["state"] == "AVAILABLE"
    assert client.decode_response(client.predict(local.url, "fcn", json.loads(GOOD_BODY))).shape
    assert good.answered_between(start, time.monotonic()) > 0
    assert not good.errors, good.errors[:5]


def test_the_server_listens_on_loopback_unless_told_otherwise(running):
    local, _ = running
    assert server.DEFAULT_HOST == "127.0.0.1"
    assert inspect.signature(server.serve).parameters["host"].default == "127.0.0.1"
    args = build_parser().parse_args(["serve", "--model-dir", "exports/m"])
    assert args.host == "127.0.0.1"
    assert inspect.signature(LocalServer).parameters["host"].default == "127.0.0.1"
    # Not reachable through this machine's other addresses (where it has one).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it picks the outgoing address
            address = probe.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    if address.startswith("127."):
        pytest.skip("this machine has no address but loopback")
    with pytest.raises(OSError):
        socket.create_connection((address, local.port), timeout=5).close()
