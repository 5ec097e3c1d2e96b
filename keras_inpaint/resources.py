"""Finding the zoo's recipe and data-spec folders (`models/`, `data_pipelines/`).

They live at the repository root, beside the package, and are installed as
shared data (`<prefix>/share/keras_inpaint/`) for non-editable installs. The
environment variable `KERAS_INPAINT_HOME` points at another root.

Example:
    >>> from keras_inpaint.resources import resource_dir
    >>> resource_dir("models").name
    'models'
"""

import difflib
import json
import os
import sysconfig
from pathlib import Path

KINDS = ("models", "data_pipelines")
# The files of each kind: a recipe is `models/<entry>/<recipe>.json` (files directly in
# models/, such as param_counts.json, are not recipes); data specs may sit in subfolders.
PATTERNS = {"models": "*/*.json", "data_pipelines": "**/*.json"}
# Where a user sees the names a kind has.
LISTING_HINTS = {
    "models": "`keras-inpaint zoo` lists the recipes with their networks.",
    "data_pipelines": "The data specs are the .json files under data_pipelines/ "
    "(see data_pipelines/README.md); --data also takes a path to your own .json.",
}


def _candidate_roots():
    if os.environ.get("KERAS_INPAINT_HOME"):
        yield Path(os.environ["KERAS_INPAINT_HOME"])
    yield Path(__file__).resolve().parent.parent
    # pip puts data_files under the install scheme's data folder: sys.prefix for
    # a venv, /usr/local on Debian-based Pythons (Colab), the user base for --user.
    for scheme in (sysconfig.get_default_scheme(), f"{os.name}_user"):
        yield Path(sysconfig.get_paths(scheme=scheme)["data"]) / "share" / "keras_inpaint"
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


def named_files(kind):
    """The `models` recipes or `data_pipelines` specs that exist, as sorted paths."""
    return sorted(resource_dir(kind).glob(PATTERNS[kind]))


def read_json(path, what):
    """The JSON document in `path`, or ValueError naming `what` (e.g. "recipe") and the file."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{what} {path} is not valid JSON: {error}") from None


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
    files = named_files(kind)
    exact = folder / f"{stem}.json"
    if exact in files:
        return exact
    # A bare name may omit the entry's folder; a name with a folder must match it.
    matches = []
    if "/" not in stem:
        matches = [p for p in files if p.stem == stem]
    if len(matches) == 1:
        return matches[0]
    available = [str(p.relative_to(folder).with_suffix("")) for p in files]
    if matches:
        raise ValueError(
            f"{kind} entry {name_or_path!r} is ambiguous, it matches several: "
            f"{', '.join(str(p.relative_to(folder).with_suffix('')) for p in matches)}. "
            "Pass the full name or a path to a .json file."
        )
    raise ValueError(
        f"{kind} entry {name_or_path!r} is not found{_no_file(path)}; "
        f"{_suggestions(stem, available)}"
        f"available: {', '.join(available) or 'none'}. {LISTING_HINTS[kind]}"
    )


def _no_file(path):
    return f" (and no file {path} exists)" if path.suffix == ".json" else ""


def _suggestions(stem, available):
    # Compared with and without the folder part, so `center128` finds
    # `context_encoder/center_128` and `contex_encoder/builtin_64` finds the real one.
    by_short = {}
    for name in available:
        by_short.setdefault(Path(name).name, []).append(name)
    close = difflib.get_close_matches(stem, available, n=3, cutoff=0.6)
    for short in difflib.get_close_matches(Path(stem).name, list(by_short), n=3, cutoff=0.6):
        close += [name for name in by_short[short] if name not in close]
    return f"did you mean {' or '.join(close[:3])}? " if close else ""
