"""The `Server-Timing` header of predict answers: where the server spent a request's time.

Every successful `:predict` answer says, in milliseconds (W3C Server Timing,
`name;dur=ms`, one header per process that took part):

- `http-parse`: the HTTP process reading a small body into arrays and checking
  its limits (absent for a large body, which a worker parses);
- `parse`: the inference worker reading the body (a large one from its bytes)
  into the signature's checked inputs;
- `model`: the worker's call of the SavedModel signature, outputs pulled to numpy;
- `encode`: the worker writing the answer's JSON bytes;
- `total`: from the body's arrival in the HTTP process to the answer ready there.

`total` minus the other stages is what passing the request to a worker and the
answer back costs; a client's own time minus `total` is HTTP itself (reading the
body, writing the answer) and the network. `benchmarks/serving_overhead.py`
reports both.

Example:
    >>> header = server_timing({"model": 12.3456, "encode": 0.5})
    >>> header
    'model;dur=12.346, encode;dur=0.5'
    >>> read_server_timing([header, "total;dur=15"])
    {'model': 12.346, 'encode': 0.5, 'total': 15.0}
"""

import time

HEADER = "Server-Timing"


def milliseconds_since(start):
    """Milliseconds from `start` (a `time.perf_counter()` reading) to now."""
    return 1000.0 * (time.perf_counter() - start)


def server_timing(durations):
    """The header value for `{stage: milliseconds}`, stages in the given order."""
    return ", ".join(f"{name};dur={round(ms, 3)}" for name, ms in durations.items())


def read_server_timing(values):
    """`{stage: milliseconds}` from the `Server-Timing` header values of one answer."""
    durations = {}
    for value in values:
        for entry in value.split(","):
            name, _, parameters = entry.strip().partition(";")
            for parameter in parameters.split(";"):
                key, _, number = parameter.strip().partition("=")
                if key == "dur" and name:
                    durations[name] = float(number)
    return durations
