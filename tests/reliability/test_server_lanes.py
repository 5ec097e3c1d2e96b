"""With two or more workers, `keras-inpaint serve` keeps one for small requests: large
requests (and large bodies, parsed by their worker rather than the HTTP process) run on the
others at a lower CPU priority, so a 32x32 request is answered while 2048x2048 ones run."""

import json
import threading
import time

import numpy as np
import pytest
from reliability.server_support import SMALL, post, worker_pids
from serving.serving_support import photo_and_hole
from test_case import tiny_context_encoder

from keras_inpaint.export import export_saved_model
from keras_inpaint.serving import client
from keras_inpaint.serving.local_server import LocalServer
from keras_inpaint.serving.predict_route import (
    SMALL_BODY_BYTES,
    SMALL_REQUEST_PIXELS,
    Lane,
    PredictRoute,
)
from keras_inpaint.serving.request_limits import RequestLimits
from keras_inpaint.serving.server import LARGE_LANE_NICENESS

MAX_BATCH = 4


def route(small_busy=0, large_busy=0, large=True):
    lanes = Lane(api=None, workers=1), Lane(api=None, workers=1) if large else None
    lanes[0].in_flight = small_busy
    if large:
        lanes[1].in_flight = large_busy
    return PredictRoute(None, *lanes, RequestLimits(), timeout=5, max_queue=0)


def test_requests_take_the_lane_of_their_size():
    small_route = route()
    assert small_route.lane_for(SMALL_REQUEST_PIXELS) is small_route.small
    assert small_route.lane_for(SMALL_REQUEST_PIXELS + 1) is small_route.large
    # A busy small lane lends its request to an idle large-lane worker, not to a busy one.
    lending = route(small_busy=1)
    assert lending.lane_for(100) is lending.large
    full = route(small_busy=1, large_busy=1)
    assert full.lane_for(100) is full.small
    # Never the other way: a large request waits for its own lane.
    waiting = route(large_busy=1)
    assert waiting.lane_for(SMALL_REQUEST_PIXELS + 1) is waiting.large
    single = route(large=False)
    assert single.lane_for(10**7) is single.small and single.workers == 1


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The tiny model behind two workers: one per lane."""
    base = tmp_path_factory.mktemp("lanes")
    export_saved_model(tiny_context_encoder(name="ce"), base, name="ce")
    options = {"workers": 2, "timeout": 120, "max_batch": MAX_BATCH}
    options["max_pixels"] = 2 * 2048 * 2048
    with LocalServer([base / "ce"], log_path=base / "server.log", **options) as local:
        yield local


def niceness(pid):
    with open(f"/proc/{pid}/stat") as stat:
        # Fields after the command name (in parentheses): nice is the 19th field.
        return int(stat.read().rsplit(")", 1)[1].split()[16])


@pytest.mark.large
def test_one_worker_per_lane_the_large_one_at_a_lower_priority(served):
    nice_values = sorted(niceness(pid) for pid in worker_pids(served))
    server_nice = niceness(served.process.pid)
    assert nice_values == [server_nice, min(server_nice + LARGE_LANE_NICENESS, 19)]


@pytest.mark.large
def test_small_requests_are_answered_while_large_ones_run(served):
    side = 2048  # two images, all hole: seconds of work
    large = client.bytes_request(
        [np.zeros((side, side, 3), np.uint8)] * 2, [np.ones((side, side), np.uint8)] * 2
    )
    finished = []

    def send_large():
        status = post(served, large)[0]
        finished.append((time.monotonic(), status))

    runners = [threading.Thread(target=send_large) for _ in range(2)]
    for runner in runners:
        runner.start()
    time.sleep(0.5)  # both have arrived: one runs on the large lane, one waits for it
    status, _, answer = post(served, SMALL)
    small_answered = time.monotonic()
    assert status == 200, answer
    for runner in runners:
        runner.join(300)
    assert [status for _, status in finished] == [200, 200]
    # With one first-come queue, both workers would be running the large requests.
    assert small_answered < min(when for when, _ in finished)


@pytest.mark.large
def test_large_bodies_are_checked_by_their_worker_as_small_ones_are(served):
    image, mask = photo_and_hole(1, 300, 300, seed=3)
    body = client.instances_request(image, mask)
    assert len(json.dumps(body)) > SMALL_BODY_BYTES
    status, _, answer = post(served, body)
    assert status == 200, answer
    assert np.asarray(answer["predictions"][0]).shape == (300, 300, 3)
    too_many = client.instances_request(*photo_and_hole(MAX_BATCH + 1, 160, 160, seed=4))
    assert len(json.dumps(too_many)) > SMALL_BODY_BYTES
    status, _, answer = post(served, too_many)
    assert status == 413 and "--max-batch-size" in answer["error"], answer
    status, _, answer = post(served, b"[" * 10 + b"0," * SMALL_BODY_BYTES)
    assert status == 400 and "not valid JSON" in answer["error"], answer
    status, _, answer = post(served, SMALL)
    assert status == 200, answer
