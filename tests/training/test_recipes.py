"""Recipes: every shipped recipe builds; bad recipes fail with errors that say what to fix."""

import json

import pytest

from keras_inpaint.resources import named_files, resource_dir
from keras_inpaint.training import build_inpainter, build_networks, load_recipe
from keras_inpaint.training.recipes import DEFAULT_RECIPE, validate_recipe

RECIPES = sorted(
    str(path.relative_to(resource_dir("models")).with_suffix("")) for path in named_files("models")
)


def test_recipes_are_found():
    assert DEFAULT_RECIPE in RECIPES
    assert len(RECIPES) >= 4


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_is_valid_and_names_its_data(name):
    from keras_inpaint.data import load_data_spec

    recipe = load_recipe(name)
    assert recipe["name"] == name
    load_data_spec(recipe["data"])


def test_default_recipe_builds_a_compiled_inpainter():
    model = build_inpainter(load_recipe(DEFAULT_RECIPE))
    assert model.g_optimizer.built
    assert model.generator.output_shape == (None, 64, 64, 3)


def test_recipe_by_path_and_by_short_name(tmp_path):
    by_name = load_recipe("center_128")
    by_path = load_recipe(resource_dir("models") / "context_encoder" / "center_128.json")
    assert by_name == by_path


def test_unknown_recipe_lists_the_available_ones():
    with pytest.raises(ValueError, match="available: .*context_encoder/builtin_64"):
        load_recipe("no_such_recipe")


def test_unknown_class_lists_registered_classes():
    recipe = load_recipe(DEFAULT_RECIPE)
    recipe["generator"] = {"class": "NoSuchGenerator", "config": {}}
    with pytest.raises(ValueError, match="unknown generator class 'NoSuchGenerator'.*Context"):
        validate_recipe(recipe)


def test_missing_and_unknown_keys_are_named(tmp_path):
    recipe = load_recipe(DEFAULT_RECIPE)
    broken = dict(recipe)
    del broken["optimizers"]
    with pytest.raises(ValueError, match="missing keys \\['optimizers'\\]"):
        validate_recipe(broken)
    with pytest.raises(ValueError, match="unknown keys \\['epochs'\\]"):
        validate_recipe({**recipe, "epochs": 3})
    with pytest.raises(ValueError, match="unknown training keys \\['lr'\\]"):
        validate_recipe({**recipe, "training": {**recipe["training"], "lr": 1}})


def test_invalid_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json is not valid JSON"):
        load_recipe(path)


def test_recipe_files_are_plain_json_with_registered_networks():
    for name in RECIPES:
        recipe = json.loads((resource_dir("models") / f"{name}.json").read_text())
        generator, _ = build_networks(recipe) if recipe["image_size"] <= 64 else (None, None)
        if generator is not None:
            assert generator.input_shape[0][1] == recipe["image_size"]
