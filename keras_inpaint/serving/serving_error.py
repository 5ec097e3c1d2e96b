"""`ServingError`: a model server answered a request with an error."""


class ServingError(RuntimeError):
    """An HTTP error answer from TF Serving or `keras-inpaint serve`.

    Args:
        status: the HTTP status code (400 for a bad request, 404 for an unknown
            model, 413 for a request over the size limit, ...).
        message: the server's `{"error": ...}` message (or the raw body when the
            answer is not JSON).

    Example:
    ```python
    try:
        client.predict("http://127.0.0.1:8501", "builtin_64", request)
    except ServingError as error:
        print(error.status, error.message)
    ```
    """

    def __init__(self, status, message):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
