"""`IdleRelease`: a worker gives memory back once idle after a large request, never mid-request."""

import time

from keras_inpaint.serving.memory import IdleRelease


def test_memory_goes_back_only_once_no_request_runs():
    releases = []
    idle = IdleRelease(delay=0.05, release=lambda: releases.append(time.monotonic()))
    idle.started()
    idle.finished(large=True)
    idle.started()  # the next request begins before the delay is over
    time.sleep(0.3)
    assert releases == []
    ended = time.monotonic()
    idle.finished(large=False)
    assert idle.wait_until_released(timeout=5.0)
    assert len(releases) == 1 and releases[0] >= ended


def test_a_new_large_request_postpones_the_release():
    releases = []
    idle = IdleRelease(delay=0.3, release=lambda: releases.append(time.monotonic()))
    idle.started()
    idle.finished(large=True)
    time.sleep(0.2)
    idle.started()
    last = time.monotonic()
    idle.finished(large=True)
    assert idle.wait_until_released(timeout=5.0)
    assert len(releases) == 1 and releases[0] >= last + 0.3


def test_small_requests_release_nothing():
    releases = []
    idle = IdleRelease(delay=0.01, release=lambda: releases.append(1))
    for _ in range(3):
        idle.started()
        idle.finished(large=False)
    time.sleep(0.1)
    assert releases == [] and idle.wait_until_released(timeout=0.1)
