"""Finding the zoo's recipe and data-spec folders (`models/`, `data_pipelines/`).

They live at the repository root, beside the package, and are installed as
shared data (`<prefix>/share/keras_inpaint/`) for non-editable installs. The
environment variable `KERAS_INPAINT_HOME` points at another root.

Example:
    >>> from keras_inpaint.resources import resource_dir
    >>> resource_dir("models").name
    'models'
"""

import os
import sys
from pathlib import Path

KINDS = ("models", "data_pipelines")


def _candidate_roots():
    if os.environ.get("KERAS_INPAINT_HOME"):
        yield Path(os.environ["KERAS_INPAINT_HOME"])
    yield Path(__file__).resolve().parent.parent
    yield Path(sys.prefix) / "share" / "keras_inpaint"
    yield Path.cwd()


def resource_dir(kind):
    """Return the folder holding the zoo's `models` or `data_pipelines` files."""
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r}; expected one of {KINDS}")
    for root in _candidate_roots():
        if (root / kind).is_dir():
            return root / kind
    raise FileNotFoundError(
        f"cannot find the zoo's {kind}/ folder; set KERAS_INPAINT_HOME to the "
        "keras-inpaint checkout (the folder holding models/ and data_pipelines/)."
    )


def resolve_json(kind, name_or_path):
    """Resolve a recipe / data spec given as a path or as a name under `kind`.

    `models/context_encoder/center_128.json`, `context_encoder/center_128` and
    `center_128` (when unique) all name the same recipe.
    """
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        return path
    folder = resource_dir(kind)
    stem = str(name_or_path).removesuffix(".json")
    stem = stem.removeprefix(f"{kind}/")
    exact = folder / f"{stem}.json"
    if exact.is_file():
        return exact
    matches = sorted(p for p in folder.rglob("*.json") if p.stem == Path(stem).name)
    if len(matches) == 1:
        return matches[0]
    available = sorted(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.json"))
    hint = "ambiguous, it matches several" if matches else "not found"
    raise ValueError(
        f"{kind} entry {name_or_path!r} is {hint}; available: {', '.join(available) or 'none'}. "
        "Pass one of these names or a path to a .json file."
    )
