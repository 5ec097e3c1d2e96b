"""Deadlines for reading requests: slow or stalled clients cannot hold a connection open.

uvicorn (under LitServe) closes idle keep-alive connections, but it waits for a
request's headers and body as long as the client likes: a client that sends
one byte a minute ("slowloris") or stops in the middle of its body holds a
connection, and a socket, for ever, and the headers it sends are buffered
without limit. `guarded_protocol` returns uvicorn's HTTP protocol with two
limits added per request:

- the whole request (headers and body) must arrive within `read_timeout`
  seconds of its first byte, or the client gets HTTP 408 and is disconnected;
- its request line and headers may take at most `max_header_bytes` bytes, or
  the client gets HTTP 431 and is disconnected.

Only the connection at fault is closed; other requests are not affected.

Example:
    >>> protocol = guarded_protocol(read_timeout=60.0, max_header_bytes=65536)
    >>> protocol.read_timeout, protocol.max_header_bytes
    (60.0, 65536)
"""

import json


def _uvicorn_protocol():
    # The class uvicorn's `http="auto"` would choose: httptools when installed.
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


def _error_response(status, message):
    body = json.dumps({"error": message}).encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _RequestDeadlines:
    """Mixed into uvicorn's HTTP protocol; relies on its `transport`, `loop` and `cycle`."""

    read_timeout = 60.0
    max_header_bytes = 64 * 1024

    def connection_made(self, transport):
        super().connection_made(transport)
        self._deadline = None
        self._start_request()

    def connection_lost(self, exc):
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data):
        if self._deadline is None:
            self._start_request()
        super().data_received(data)
        if self._deadline is None or self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is self._cycle_at_start:
            # Still in the request line and headers of this request.
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._refuse(
                    431,
                    f"the request line and headers are over {self.max_header_bytes} bytes; "
                    "send the images in the JSON body",
                )
        elif not cycle.more_body:
            # The whole request has arrived: the model's time is not the client's.
            self._cancel_deadline()

    def _start_request(self):
        self._header_bytes = 0
        # uvicorn makes a new request cycle once a request's headers are complete.
        self._cycle_at_start = self.cycle
        self._deadline = self.loop.call_later(self.read_timeout, self._on_deadline)

    def _cancel_deadline(self):
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _on_deadline(self):
        self._deadline = None
        self._refuse(
            408,
            f"the request did not arrive within {self.read_timeout:g} s (the server's request "
            "read timeout); send the whole request at once, or a smaller one",
        )

    def _refuse(self, status, message):
        self._cancel_deadline()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answered = (
            cycle is not None
            and cycle is not self._cycle_at_start
            and (cycle.response_started or cycle.response_complete)
        )
        if cycle is not None and cycle is not self._cycle_at_start and not cycle.response_complete:
            # The application may be waiting for the rest of the body: it sees a
            # disconnect and writes nothing more on this connection.
            cycle.disconnected = True
            cycle.message_event.set()
        if not answered:
            self.transport.write(_error_response(status, message))
        self.transport.close()


def guarded_protocol(read_timeout, max_header_bytes):
    """uvicorn's HTTP protocol class with per-request read deadline and header size limit.

    Pass the result as uvicorn's `http` option (`server.run(..., http=...)` in LitServe).

    Args:
        read_timeout: seconds from a request's first byte to its last; later is HTTP 408.
        max_header_bytes: most bytes of request line and headers; more is HTTP 431.
    """
    if not read_timeout > 0:
        raise ValueError(f"read_timeout must be a positive number of seconds; got {read_timeout}")
    if int(max_header_bytes) < 1024:
        raise ValueError(
            f"max_header_bytes must be at least 1024 (HTTP clients send a few hundred bytes); "
            f"got {max_header_bytes}"
        )
    base = _uvicorn_protocol()
    return type(
        f"Guarded{base.__name__}",
        (_RequestDeadlines, base),
        {"read_timeout": float(read_timeout), "max_header_bytes": int(max_header_bytes)},
    )
