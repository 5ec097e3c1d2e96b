"""`POST /v1/models/<name>:predict`, in the HTTP process: admission, work limits, lanes, deadline.

LitServe's own route would queue every request without bound, send the JSON
body to the worker as Python lists (tens of bytes per pixel number) and wait
for the answer as long as the worker takes. This route, registered in its
place, puts the same request on a LitServe worker queue, but first

1. refuses the request with HTTP 503 and `Retry-After` when `workers + max_queue`
   requests of this model are already waiting or running (`--max-queue`; counted
   from when a body has fully arrived);
2. parses a small body (up to `SMALL_BODY_BYTES`) and checks its work limits
   (`request_body`, `request_limits`: 413 over `--max-batch-size` or
   `--max-pixels`; 400 for a body that is no JSON object), turning pixel lists
   into compact numpy arrays; a larger body goes to a worker unparsed, to be
   parsed and checked there, so that parsing tens of MB of JSON never holds up
   this process and the small requests it is passing on;
3. with more than one worker, sends it down one of two lanes, each a queue with
   workers of its own (`server.build_server`): the **small lane** (one worker)
   takes small requests (up to `SMALL_REQUEST_PIXELS` pixels in a small body);
   the **large lane** (the other workers, at a lower CPU priority) takes the
   rest, larger bodies included. So a 64x64 request neither waits behind a row
   of 1024x1024 ones nor loses its core to them; a small request still takes an
   idle large-lane worker when the small lane is busy;

adds its own stages to the answer's `Server-Timing` header (`http-parse`,
`total`: `server_timing`), gives a large body's freed copies back to the system
once the route has been idle for a second (`memory.IdleRelease`), and answers
HTTP 504 once `timeout` seconds have passed since the body arrived, whether or
not the worker has finished (`--timeout`). A worker still running
the request then is killed (SIGKILL) and LitServe starts a fresh one in its
place, so no CPU is spent on an answer nobody waits for; workers skip requests
whose time ran out while they queued.
"""

import asyncio
import math
import os
import pickle
import signal
import time
import uuid

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from litserve.utils import LitAPIStatus, ResponseBufferItem

from keras_inpaint.serving.memory import IdleRelease, paused_gc
from keras_inpaint.serving.request_body import parse_body
from keras_inpaint.serving.request_limits import RequestTooLarge, compact_body
from keras_inpaint.serving.saved_model_api import pid_file
from keras_inpaint.serving.server_timing import HEADER, milliseconds_since, server_timing

# Bodies up to this size are parsed here (a 128x128 JSON request is about 0.3 MB and
# takes milliseconds); larger ones go unparsed to the large lane's workers.
SMALL_BODY_BYTES = 512 * 1024
# After a body of this size, the freed memory of its copies is given back to the system
# once the route idles.
LARGE_BODY_BYTES = 4 * 1024 * 1024
# Requests of up to this many pixels (in a small body) take the small lane: thumbnails and
# previews. A 256x256 request costs several 64x64 ones; in the small lane it held them up
# (benchmarks/serving_load.py: small requests' p99 under load 40x their p50 alone, 8x now).
SMALL_REQUEST_PIXELS = 128 * 128


def _error(status, message, headers=None):
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class Lane:
    """One worker queue of a model: its `SavedModelAPI`, its workers and its requests.

    Example:
        >>> lane = Lane(api=None, workers=1)
        >>> lane.idle
        True
    """

    def __init__(self, api, workers):
        self.api, self.workers = api, int(workers)
        self.in_flight = 0

    @property
    def idle(self):
        """Whether one of the lane's workers is free."""
        return self.in_flight < self.workers


class PredictRoute:
    """The predict endpoint of one model, bound to a `litserve.LitServer` and its lanes.

    Args:
        server: the LitServer whose worker queues and response buffer are used.
        small: the model's small-lane `Lane` (all its workers when there is no
            large lane).
        large: its large-lane `Lane`, or None with a single worker.
        limits: a `RequestLimits`.
        timeout: seconds from a request's arrival to HTTP 504.
        max_queue: requests that may wait for a worker beyond those running.
    """

    def __init__(self, server, small, large, limits, timeout, max_queue):
        self.server, self.small, self.large, self.limits = server, small, large, limits
        self.timeout = float(timeout)
        self.workers = small.workers + (large.workers if large else 0)
        self.capacity = self.workers + int(max_queue)
        self.in_flight = 0
        self._idle = IdleRelease()

    async def __call__(self, request: Request):
        # Counted once the body has arrived: a slow upload costs a socket (until
        # --request-read-timeout), not a place in the queue.
        return await self.answer(await request.body())

    async def answer(self, data):
        """The response to predict body bytes `data` (a TF Serving REST v1 body)."""
        return await self._admitted(lambda: self._dispatch(data), len(data) >= LARGE_BODY_BYTES)

    async def answer_arrays(self, body, large=False):
        """The response to a predict body already read into numpy arrays (the gRPC service's).

        `body` is what `read_predict_body` and `compact_body` make of REST bytes;
        the same limits, lanes, deadline and messages apply, without JSON either
        way: a 200 response's body is the signature's outputs, `{name: array}`,
        pickled by the worker (`saved_model_api.ARRAYS_MEDIA_TYPE`); an error's
        is the JSON `{"error": ...}` as for REST. `large`: the request was large
        enough to give its memory back.
        """
        arrived, start = time.monotonic(), time.perf_counter()
        request = {"body": body, "answer": "arrays"}
        return await self._admitted(lambda: self._dispatch_body(request, arrived, start), large)

    async def _admitted(self, dispatch, large):
        """`dispatch()`'s response, or 503 when the model's queue is full."""
        if self.in_flight >= self.capacity:
            return self._busy()
        self.in_flight += 1
        self._idle.started()
        start = time.perf_counter()
        try:
            response, parse_ms = await dispatch()
        finally:
            self.in_flight -= 1
            self._idle.finished(large=large)
        if response.status_code == 200:
            durations = {} if parse_ms is None else {"http-parse": parse_ms}
            durations["total"] = milliseconds_since(start)
            response.headers.append(HEADER, server_timing(durations))
        return response

    async def _dispatch(self, data):
        """The response and the ms this process spent parsing `data` (None: the worker parses)."""
        arrived, start = time.monotonic(), time.perf_counter()
        if len(data) > SMALL_BODY_BYTES:
            # Parsed and checked by the worker that runs it (`SavedModelAPI`).
            return await self._answer(self.large or self.small, {"raw": data}, arrived), None
        try:
            body = parse_body(data)
            with paused_gc():
                compact_body(body)
        except ValueError as error:
            return _error(400, str(error)), None
        return await self._dispatch_body({"body": body}, arrived, start)

    async def _dispatch_body(self, request, arrived, start):
        """Check a read `request["body"]`'s limits, queue it, wait; ms since `start` as parse."""
        try:
            _, pixels = self.limits.check(request["body"])
        except RequestTooLarge as error:
            return _error(error.status, str(error)), None
        parse_ms = milliseconds_since(start)
        lane = self.lane_for(pixels)
        return await self._answer(lane, {**request, "pixels": pixels}, arrived), parse_ms

    def lane_for(self, pixels):
        """The lane for a parsed request of `pixels` pixels."""
        if self.large is None:
            return self.small
        if pixels > SMALL_REQUEST_PIXELS:
            return self.large
        # A small request takes an idle large-lane worker rather than queue.
        return self.large if not self.small.idle and self.large.idle else self.small

    def _busy(self):
        # Each worker frees up in about one request's time; a second is a fair guess.
        retry = max(1, math.ceil(self.in_flight / max(1, self.workers) * 0.5))
        return _error(
            503,
            f"the server is busy: {self.in_flight} requests for this model are waiting or "
            f"running, its limit (keras-inpaint serve --workers plus --max-queue); retry "
            f"after {retry} s",
            headers={"Retry-After": str(retry)},
        )

    def _timed_out(self):
        return _error(
            504,
            f"the request did not finish within {self.timeout:g} s (keras-inpaint serve "
            "--timeout); send smaller images or fewer per request, or retry when the "
            "server is less busy",
        )

    async def _answer(self, lane, payload, arrived):
        """Queue `payload` on `lane` and wait for its answer until the deadline."""
        lane.in_flight += 1
        try:
            return await self._wait_for_answer(lane, payload, arrived)
        finally:
            lane.in_flight -= 1

    async def _wait_for_answer(self, lane, payload, arrived):
        uid = uuid.uuid4().hex
        event = asyncio.Event()
        buffer = self.server.response_buffer
        buffer[uid] = ResponseBufferItem(event)
        queue = self.server._get_request_queue(lane.api.api_path)
        queue.put((self.server.app.response_queue_id, uid, arrived, payload))
        del payload
        remaining = arrived + self.timeout - time.monotonic()
        try:
            await asyncio.wait_for(event.wait(), timeout=max(0.0, remaining))
        except TimeoutError:
            self._stop_worker(lane.api, buffer[uid])
            return self._timed_out()
        finally:
            item = buffer.pop(uid, None)
        response, status = item.response
        if status == LitAPIStatus.ERROR:
            return self._worker_error(response)
        return response

    @staticmethod
    def _stop_worker(api, item):
        """Kill `api`'s worker running a request past its deadline; LitServe replaces it."""
        if item.worker_id is None or item.event.is_set() or api.pid_dir is None:
            return  # still queued (the worker will skip it), or answered just now
        try:
            pid = int(pid_file(api.pid_dir, item.worker_id).read_text())
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass  # gone already

    def _worker_error(self, response):
        """The worker's HTTPException as `{"error": ...}`; anything else is HTTP 500."""
        if isinstance(response, bytes):
            try:
                response = pickle.loads(response)
            except Exception:  # a failure the worker could not describe
                response = None
        if isinstance(response, HTTPException):
            if response.status_code == 504:  # the worker found it expired in the queue
                return self._timed_out()
            return _error(response.status_code, str(response.detail))
        return _error(500, "the model failed on this request; see the server's log")
