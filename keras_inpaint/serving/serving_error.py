"""`ServingError`: a model server answered a request with an error, or closed it unanswered."""


class ServingError(RuntimeError):
    """An HTTP error answer from TF Serving or `keras-inpaint serve`, or no answer at all.

    Args:
        status: the HTTP status code (400 for a bad request, 404 for an unknown
            model, 413 for a request over the size limit, ...), or None when the
            server closed the connection before answering.
        message: the server's `{"error": ...}` message (or the raw body when the
            answer is not JSON), or the client's account of the closed connection.

    Example:
    ```python
    try:
        client.predict("http://127.0.0.1:8501", "quickstart", request)
    except ServingError as error:
        print(error.status, error.message)
    ```
    """

    def __init__(self, status, message):
        super().__init__(f"HTTP {status}: {message}" if status is not None else message)
        self.status = status
        self.message = message
