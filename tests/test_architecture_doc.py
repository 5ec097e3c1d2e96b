"""The recipes and data specs that docs/ARCHITECTURE.md and data_pipelines/README.md show are real.

Every ```json block that is a recipe (it has `inpainter`, `generator` or
`optimizers`) or a data spec (it has `source` or `masks`) is validated by the
project's own checks (`validate_recipe`, `validate_data_spec`); a recipe's
`data` must name a data spec that loads; and an example named after a shipped
file must agree with it on every key it shows (a value of "..." is elided).
Every recipe name (`glcic/builtin_64`) or data spec name (`builtin_64_boxes`,
any backticked word with a number part, and the first column of
data_pipelines/README.md's table) quoted in those documents must load.

Example:
    $ python -m pytest -q tests/test_architecture_doc.py
"""

import json
import re
from pathlib import Path

import pytest

from keras_inpaint.data import load_data_spec, validate_data_spec
from keras_inpaint.resources import read_json, resolve_json
from keras_inpaint.training.recipes import load_recipe, validate_recipe

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = (ROOT / "docs" / "ARCHITECTURE.md", ROOT / "data_pipelines" / "README.md")
JSON_BLOCK = re.compile(r"^```json[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
QUOTED = re.compile(r"`([^`\s]+)`")
# A word with an all-digit part after an underscore: `builtin_64_boxes`, `center_128`.
SIZED_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*_[0-9]+(?:_[a-z0-9]+)*")
# `entry/recipe`, where `entry` is a folder of models/.
RECIPE_NAME = re.compile(r"([a-z][a-z0-9_]*)/([a-z0-9_]+)")
# data_pipelines/README.md's table of shipped specs: the name in its first column.
TABLE_NAME = re.compile(r"^\| `([^`]+)` \|", re.MULTILINE)
RECIPE_KEYS = {"inpainter", "generator", "optimizers"}
SPEC_KEYS = {"source", "masks"}
ELIDED = "..."
ZOO_ENTRIES = {path.name for path in (ROOT / "models").iterdir() if path.is_dir()}


def json_examples(text):
    """`(line, kind, example)` of each recipe or data spec ```json block in `text`."""
    found = []
    for block in JSON_BLOCK.finditer(text):
        line = text.count("\n", 0, block.start()) + 1
        example = json.loads(block.group(1))
        if not isinstance(example, dict):
            continue
        if RECIPE_KEYS & set(example):
            found.append((line, "recipe", example))
        elif SPEC_KEYS & set(example):
            found.append((line, "data spec", example))
    return found


def quoted_names(text):
    """The recipe and data spec names quoted in `text`, as `{name: kind}`.

    `kind` is "recipe" for `entry/recipe` and "recipe or data spec" for a bare
    name (a recipe may be named without its entry's folder).
    """
    names = {}
    for token in QUOTED.findall(text):
        recipe = RECIPE_NAME.fullmatch(token)
        if recipe is not None and recipe.group(1) in ZOO_ENTRIES:
            names[token] = "recipe"
        elif SIZED_NAME.fullmatch(token):
            names[token] = "recipe or data spec"
    for token in TABLE_NAME.findall(text):
        names[token] = "data spec"
    return names


def check_agrees_with_shipped(where, kind, example):
    """Raise AssertionError where `example` differs from the shipped file of its name."""
    folder = "models" if kind == "recipe" else "data_pipelines"
    try:
        shipped = read_json(resolve_json(folder, example.get("name", "")), kind)
    except ValueError:
        return  # not a shipped name: a variant, checked by validation alone
    differ = sorted(
        key
        for key, value in example.items()
        if value != ELIDED and (key not in shipped or shipped[key] != value)
    )
    assert not differ, (
        f"{where}: the {kind} example is named {example['name']!r} but differs from the "
        f"shipped {folder}/ file in {differ}; copy those keys from it or rename the example"
    )


def check_example(where, kind, example):
    """Validate one documented recipe or data spec with the project's own checks."""
    try:
        if kind == "recipe":
            validate_recipe(example, source="recipe")
            load_data_spec(example["data"])
        else:
            validate_data_spec(example)
    except ValueError as error:
        raise AssertionError(f"{where}: the {kind} example is not valid: {error}") from error
    check_agrees_with_shipped(where, kind, example)


def check_name(where, name, kind):
    """Load the recipe (and its data spec) or the data spec that `name` names."""
    errors = []
    if kind != "data spec":
        try:
            recipe = load_recipe(name)
        except ValueError as error:
            errors.append(str(error))
        else:
            load_data_spec(recipe["data"])
            return
    if kind != "recipe":
        try:
            load_data_spec(name)
            return
        except ValueError as error:
            errors.append(str(error))
    raise AssertionError(f"{where}: `{name}` names no {kind}: " + " | ".join(errors))


def cases(extract):
    return [
        pytest.param(document, *found, id=f"{document.relative_to(ROOT)}:{found[0]}")
        for document in DOCUMENTS
        for found in extract(document.read_text())
    ]


EXAMPLES = cases(json_examples)
NAMES = [
    pytest.param(document, name, kind, id=f"{document.relative_to(ROOT)}:{name}")
    for document in DOCUMENTS
    for name, kind in quoted_names(document.read_text()).items()
]


@pytest.mark.parametrize(("document", "line", "kind", "example"), EXAMPLES)
def test_every_documented_example_is_valid(document, line, kind, example):
    check_example(f"{document.relative_to(ROOT)}:{line}", kind, example)


@pytest.mark.parametrize(("document", "name", "kind"), NAMES)
def test_every_quoted_name_loads(document, name, kind):
    check_name(str(document.relative_to(ROOT)), name, kind)


def test_the_architecture_page_shows_a_recipe_and_a_data_spec():
    kinds = [kind for _, kind, _ in json_examples(DOCUMENTS[0].read_text())]
    assert "recipe" in kinds and "data spec" in kinds, kinds
    names = quoted_names(DOCUMENTS[0].read_text())
    assert "glcic/builtin_64" in names and "builtin_64_boxes" in names, names


def test_a_table_of_specs_is_read():
    names = quoted_names(DOCUMENTS[1].read_text())
    assert names.get("imagenet64_center") == "data spec", names


BROKEN_RECIPE = """
```json
{
  "name": "context_encoder/center_128",
  "inpainter": {"class": "ContextEncoderInpainter", "config": {"lambda_rec": 0.999}},
  "generator": {"class": "ContextEncoderGenerator", "config": {"image_size": 128}},
  "optimizers": {"generator": {"class": "Adam", "config": {}}},
  "data": "paris_center_128",
  "training": {"batch_size": 64, "epochs": 100, "steps_per_epoch": 1000}
}
```
"""


def test_a_recipe_without_image_size_fails():
    [(line, kind, example)] = json_examples(BROKEN_RECIPE)
    with pytest.raises(AssertionError, match="missing keys \\['image_size'\\]"):
        check_example(f"doc:{line}", kind, example)


def test_a_recipe_naming_a_missing_data_spec_fails():
    [(_, kind, example)] = json_examples(BROKEN_RECIPE)
    example["image_size"] = 128
    example["generator"]["config"]["variant"] = "full"
    with pytest.raises(AssertionError, match="paris_center_128"):
        check_example("doc:2", kind, example)


def test_an_example_that_differs_from_its_shipped_file_fails():
    example = load_data_spec("builtin_64_boxes")
    example["image_size"] = 32
    with pytest.raises(AssertionError, match=r"differs from the shipped .* \['image_size'\]"):
        check_example("doc:1", "data spec", example)
    example["image_size"], example["description"] = 64, ELIDED
    check_example("doc:1", "data spec", example)


def test_an_invalid_data_spec_example_fails():
    text = '```json\n{"source": {"type": "folder"}, "masks": {"kind": "center_box"}}\n```\n'
    [(line, kind, example)] = json_examples(text)
    with pytest.raises(AssertionError, match="path"):
        check_example(f"doc:{line}", kind, example)


def test_a_quoted_name_that_names_nothing_fails():
    names = quoted_names("train `glcic/builtin_46` on `paris_center_128`, see `uint8_to_model`")
    assert names == {
        "glcic/builtin_46": "recipe",
        "paris_center_128": "recipe or data spec",
    }
    for name, kind in names.items():
        with pytest.raises(AssertionError, match=f"`{name}` names no"):
            check_name("doc", name, kind)
