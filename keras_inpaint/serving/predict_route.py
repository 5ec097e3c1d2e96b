"""`POST /v1/models/<name>:predict`, in the HTTP process: admission, work limits, deadline.

LitServe's own route would queue every request without bound, send the JSON
body to the worker as Python lists (tens of bytes per pixel number) and wait
for the answer as long as the worker takes. This route, registered in its
place, puts the same request on LitServe's worker queue, but first

1. refuses the request with HTTP 503 and `Retry-After` when `workers + max_queue`
   requests of this model are already waiting or running (`--max-queue`; counted
   from when a body has fully arrived);
2. parses the body and checks its work limits (`request_limits`: 413 over
   `--max-batch-size` or `--max-pixels`; 400 for a body that is no JSON object);
3. turns pixel lists into compact numpy arrays;
4. with more than one worker, lets large requests (over `SMALL_REQUEST_PIXELS`)
   take at most all workers but one, so one always stays for small requests:
   a 64x64 request does not wait behind a row of 1024x1024 ones;

and answers HTTP 504 once `timeout` seconds have passed since the body arrived,
whether or not the worker has finished (`--timeout`). A worker still running
the request then is killed (SIGKILL) and LitServe starts a fresh one in its
place, so no CPU is spent on an answer nobody waits for; workers skip requests
whose time ran out while they queued.
"""

import asyncio
import json
import math
import os
import pickle
import signal
import time
import uuid

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from litserve.utils import LitAPIStatus, ResponseBufferItem

from keras_inpaint.serving.memory import paused_gc, release_free_memory
from keras_inpaint.serving.request_limits import RequestTooLarge, compact_body
from keras_inpaint.serving.rest_protocol import check_nesting
from keras_inpaint.serving.saved_model_api import pid_file

# Bodies from this size on leave enough freed memory behind to be worth trimming.
LARGE_BODY_BYTES = 4 * 1024 * 1024
# Requests over this many pixels are "large": with several workers, they may hold all
# but one at a time, so that small requests never wait behind a row of large ones.
SMALL_REQUEST_PIXELS = 256 * 256

BODY_SHAPE_MESSAGE = (
    'the request body must be a JSON object, {"instances": [...]} or {"inputs": {...}}, '
    'with an optional "signature_name"'
)


def _error(status, message, headers=None):
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def parse_body(data):
    """Request body bytes -> the JSON object; raises ValueError with a message for the client.

    TF Serving reads the body as JSON whatever its Content-Type (its documented
    curl calls send form encoding), and so does this server.
    """
    try:
        with paused_gc():
            body = json.loads(data)
    except RecursionError:
        raise ValueError(
            "the request body nests lists or objects too deeply: it is nested too deeply to "
            'be parsed, and a predict body, {"instances": [...]} or {"inputs": {...}} with '
            "[H][W][C] pixel lists, nests 7 deep at most"
        ) from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"the request body is not valid JSON: {error}") from None
    check_nesting(body)
    if not isinstance(body, dict):
        raise ValueError(BODY_SHAPE_MESSAGE)
    return body


class PredictRoute:
    """The predict endpoint of one model, bound to a `litserve.LitServer` and its `LitAPI`.

    Args:
        server: the LitServer whose worker queue and response buffer are used.
        api: the model's `SavedModelAPI` (its `api_path` names the worker queue).
        limits: a `RequestLimits`.
        timeout: seconds from a request's arrival to HTTP 504.
        workers: inference workers of the model.
        max_queue: requests that may wait for a worker beyond those running.
    """

    def __init__(self, server, api, limits, timeout, workers, max_queue):
        self.server, self.api, self.limits = server, api, limits
        self.timeout = float(timeout)
        self.capacity = int(workers) + int(max_queue)
        self.workers = int(workers)
        self.in_flight = 0
        # Created here, bound to the HTTP process's event loop at first use.
        self.large_slots = asyncio.Semaphore(max(1, self.workers - 1))

    async def __call__(self, request: Request):
        # Counted once the body has arrived: a slow upload costs a socket (until
        # --request-read-timeout), not a place in the queue.
        data = await request.body()
        if self.in_flight >= self.capacity:
            return self._busy()
        self.in_flight += 1
        size = len(data)
        try:
            arrived = time.monotonic()
            try:
                body = parse_body(data)
                del data  # the parsed body replaces it
                _, pixels = self.limits.check(body)
                with paused_gc():
                    compact_body(body)
            except RequestTooLarge as error:
                return _error(error.status, str(error))
            except ValueError as error:
                return _error(400, str(error))
            payload = {"body": body, "pixels": pixels}
            del body
            if pixels <= SMALL_REQUEST_PIXELS or self.workers == 1:
                return await self._answer(payload, arrived)
            return await self._answer_large(payload, arrived)
        finally:
            self.in_flight -= 1
            if size >= LARGE_BODY_BYTES:
                release_free_memory()

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

    async def _answer_large(self, payload, arrived):
        """`_answer` once one of the large requests' slots is free, within the deadline."""
        remaining = arrived + self.timeout - time.monotonic()
        try:
            await asyncio.wait_for(self.large_slots.acquire(), timeout=max(0.0, remaining))
        except TimeoutError:
            return self._timed_out()
        try:
            return await self._answer(payload, arrived)
        finally:
            self.large_slots.release()

    async def _answer(self, payload, arrived):
        """Queue `payload` for a worker and wait for its answer until the deadline."""
        uid = uuid.uuid4().hex
        event = asyncio.Event()
        buffer = self.server.response_buffer
        buffer[uid] = ResponseBufferItem(event)
        queue = self.server._get_request_queue(self.api.api_path)
        queue.put((self.server.app.response_queue_id, uid, arrived, payload))
        del payload
        remaining = arrived + self.timeout - time.monotonic()
        try:
            await asyncio.wait_for(event.wait(), timeout=max(0.0, remaining))
        except TimeoutError:
            self._stop_worker(buffer[uid])
            return self._timed_out()
        finally:
            item = buffer.pop(uid, None)
        response, status = item.response
        if status == LitAPIStatus.ERROR:
            return self._worker_error(response)
        return response

    def _stop_worker(self, item):
        """Kill the worker running a request past its deadline; LitServe replaces it."""
        if item.worker_id is None or item.event.is_set() or self.api.pid_dir is None:
            return  # still queued (the worker will skip it), or answered just now
        try:
            pid = int(pid_file(self.api.pid_dir, item.worker_id).read_text())
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
