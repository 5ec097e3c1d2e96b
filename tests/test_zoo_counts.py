"""`models/param_counts.json`, which `keras-inpaint zoo` lists, equals the built networks' counts.

Building every recipe's networks (no data runs through them) takes about
30 s on the 2-core CPU; the zoo listing itself builds nothing.
"""

import json
import subprocess
import sys

import pytest

from keras_inpaint import zoo
from keras_inpaint.resources import named_files
from keras_inpaint.training.recipes import load_recipe

RECIPES = [zoo.recipe_name(path) for path in named_files("models")]
STALE = f"models/{zoo.COUNTS_FILE} is out of date: run `{zoo.WRITE_COUNTS_COMMAND}`"


@pytest.fixture(scope="module")
def stored():
    return zoo.stored_counts()


@pytest.mark.large
@pytest.mark.parametrize("name", RECIPES)
def test_stored_counts_equal_the_built_networks(name, stored):
    assert name in stored, f"{name} has no parameter counts; {STALE}"
    recipe = load_recipe(name)
    assert stored[name]["networks_sha256"] == zoo.networks_fingerprint(recipe), (
        f"{name}'s networks changed since they were counted; {STALE}"
    )
    assert stored[name]["networks"] == zoo.count_networks(recipe), f"{name}: {STALE}"


def test_every_stored_count_belongs_to_a_recipe(stored):
    unknown = sorted(set(stored) - set(RECIPES))
    assert not unknown, f"counts of recipes that no longer exist, {unknown}; {STALE}"


def test_listing_the_zoo_imports_no_tensorflow():
    code = (
        "import sys; from keras_inpaint.zoo import zoo_entries, preset_entries; "
        "entries = zoo_entries(); preset_entries(); "
        "print(len(entries), 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.split() == [str(len(RECIPES)), "False", "False"]
    assert completed.stderr == ""


@pytest.mark.large
def test_a_recipe_without_a_stored_count_is_built(tmp_path, monkeypatch, capsys):
    recipe = load_recipe("pepsi/builtin_64_free_form")
    (tmp_path / "models" / "mine").mkdir(parents=True)
    for name in ("new", "changed"):
        (tmp_path / "models" / "mine" / f"{name}.json").write_text(json.dumps(recipe))
    counted = zoo.count_networks(recipe)
    changed = {"networks_sha256": "0" * 16, "networks": {"generator": {"class": "Old"}}}
    (tmp_path / "models" / zoo.COUNTS_FILE).write_text(json.dumps({"mine/changed": changed}))
    monkeypatch.setenv("KERAS_INPAINT_HOME", str(tmp_path))
    entries = zoo.zoo_entries()
    assert [entry["recipe"] for entry in entries] == ["mine/changed", "mine/new"]
    assert all(entry["networks"] == counted for entry in entries)
    notes = capsys.readouterr().err
    assert "zoo: building mine/new" in notes and zoo.WRITE_COUNTS_COMMAND in notes
