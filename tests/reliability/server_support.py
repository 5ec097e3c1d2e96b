"""Requests to a `LocalServer` serving the tiny model as "ce", and its worker processes.

Shared by tests/reliability/test_server_limits.py and test_server_lanes.py.
"""

import json
import urllib.error
import urllib.request

from serving.serving_support import photo_and_hole

from keras_inpaint.serving import client

# A 32x32 predict request: one image, one box hole.
SMALL = client.instances_request(*photo_and_hole(1, 32, 32, seed=1))


def post(local, body, timeout=120):
    """`(status, headers, decoded JSON)` of a predict request."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{local.url}/v1/models/ce:predict", data=data)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.headers, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def worker_pids(local):
    """The server's inference worker processes (spawned by multiprocessing)."""
    pids = []
    for pid in local.pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"multiprocessing.spawn" in cmdline.read():
                    pids.append(pid)
        except OSError:
            pass
    return pids
