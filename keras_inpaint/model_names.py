"""The rule for model names, shared by `keras-inpaint export --name` and `keras-inpaint serve`.

A model name is one folder name (`<base>/<name>/<version>` on disk) and one
URL path segment (`/v1/models/<name>:predict`), so it is:

- 1 to 255 characters of ASCII letters, digits, `_`, `-` and `.`;
- not starting with `.` or `-`: no `.` or `..` (which would leave `--base`),
  no hidden folder (the export's own `.tmp-*` folders are hidden), nothing
  that reads as a command-line option.

So `/`, `\\`, `:`, spaces, NUL and other control characters are refused.
This module imports nothing heavy: the server checks names without TensorFlow.

Example:
    >>> check_model_name("quickstart")
    'quickstart'
    >>> check_model_name("..")
    Traceback (most recent call last):
    ...
    ValueError: model name '..' is not allowed: a model name is 1 to 255 letters, digits, '_', '-' and '.', not starting with '.' or '-' (one folder name: TF Serving serves <base>/<name>/<version>); pass --name NAME.
"""  # noqa: E501

import re

MODEL_NAME_RULE = (
    "1 to 255 letters, digits, '_', '-' and '.', not starting with '.' or '-' "
    "(one folder name: TF Serving serves <base>/<name>/<version>)"
)
_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}")


def is_model_name(name):
    """Whether `name` follows the model name rule (see the module docstring)."""
    return isinstance(name, str) and _MODEL_NAME.fullmatch(name) is not None


def check_model_name(name, fix="pass --name NAME"):
    """`name` if it follows the model name rule, else ValueError naming the rule and `fix`."""
    if not is_model_name(name):
        raise ValueError(
            f"model name {name!r} is not allowed: a model name is {MODEL_NAME_RULE}; {fix}."
        )
    return name
