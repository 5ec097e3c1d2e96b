"""TensorFlow op errors as the one-line reason a user can act on.

Used wherever a `tf.errors.OpError` reaches a user: `keras_inpaint.inference`,
the command line's one-line errors and the model server's HTTP 400 answers.
It reads only the error's `message`, so importing it needs no TensorFlow.

Example:
    >>> class Failed:  # stands in for a tf.errors.InvalidArgumentError
    ...     message = "assertion failed: [the image is empty] [Condition x > 0 did not hold]"
    >>> op_error_message(Failed())
    'the image is empty'
"""

import re


def op_error_message(error):
    """The reason a `tf.errors.OpError` gives, without node names and stack details.

    A failed check of the signatures gives its message (`"this export takes images
    of at most ..."`); other errors their first line that says what went wrong
    (`"Unknown image file format. ..."`).
    """
    text = error.message
    # A failed assertion prints `assertion failed: [message] [Condition ...] [values]`,
    # quotes escaped; the message itself may hold brackets (`shape [-1, -1, -1, 3]`).
    failed = re.search(r"assertion failed: \[(.*?)\](?: \[|\n|$)", text, re.DOTALL)
    if failed:
        return failed.group(1).replace("\\'", "'")
    noise = ("Graph execution error", "Detected at node", "<stack traces", "[[")
    reasons = [line.strip() for line in text.splitlines()]
    reasons = [line for line in reasons if line and not line.startswith(noise)]
    reason = reasons[0] if reasons else " ".join(text.split())
    # Eager errors start with the wrapped function's name: noise to a user.
    reason = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", reason)
    return re.sub(r"\s*\[Op:\S+\]$", "", reason).strip()
