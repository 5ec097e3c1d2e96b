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


@pytest.mark.large
def test_recipe_files_are_plain_json_with_registered_networks():
    for name in RECIPES:
        recipe = json.loads((resource_dir("models") / f"{name}.json").read_text())
        generator, _ = build_networks(recipe) if recipe["image_size"] <= 64 else (None, None)
        if generator is not None:
            assert generator.input_shape[0][1] == recipe["image_size"]


def test_every_recipe_states_one_image_size():
    from keras_inpaint.data import load_data_spec

    for name in RECIPES:
        recipe = load_recipe(name)  # its networks' sizes agree, or it would not load
        # The data spec's image_size is a default the recipe's overrides; shipped pairs agree.
        spec_size = load_data_spec(recipe["data"]).get("image_size", recipe["image_size"])
        assert spec_size == recipe["image_size"], name


FIX = "one image size per recipe: the data is cropped to the top-level image_size"


@pytest.mark.parametrize(
    "recipe_name, role, config, message",
    [
        (
            "glcic/builtin_64",
            "generator",
            {"image_size": 128},
            "generator.config.image_size is 128 but the recipe's image_size is 64; "
            "set generator.config.image_size to 64",
        ),
        (
            "glcic/builtin_64",
            "discriminator",
            {"image_size": 32},
            "discriminator.config.image_size is 32 but the recipe's image_size is 64; "
            "set discriminator.config.image_size to 64",
        ),
        (
            "context_encoder/center_128",
            "discriminator",
            {"image_size": 128},
            "discriminator.config.image_size is 128 but the discriminator sees the generator's "
            'centre region (variant "center"), half the recipe\'s image_size 128; '
            "set discriminator.config.image_size to 64",
        ),
    ],
)
def test_a_network_size_that_disagrees_is_named_with_its_fix(recipe_name, role, config, message):
    recipe = load_recipe(recipe_name)
    recipe[role]["config"].update(config)
    with pytest.raises(ValueError, match="^my.json: ") as raised:
        validate_recipe(recipe, source="my.json")
    assert str(raised.value) == f"my.json: {message} ({FIX})."


def test_an_omitted_size_whose_default_disagrees_is_named():
    recipe = load_recipe("glcic/builtin_64")
    recipe["generator"]["config"]["image_size"] = None
    validate_recipe(recipe)  # a fully convolutional generator takes any size
    del recipe["generator"]["config"]["image_size"]
    with pytest.raises(ValueError) as raised:
        validate_recipe(recipe)
    assert str(raised.value) == (
        "recipe: generator.config gives no image_size, so GLCICGenerator's default 256 applies, "
        f'but the recipe\'s image_size is 64; add "image_size": 64 to generator.config ({FIX}).'
    )
    recipe["image_size"] = "64"
    with pytest.raises(ValueError, match="image_size must be a positive whole number.*'64'"):
        validate_recipe(recipe)


def test_training_checks_a_recipe_dict_like_a_file(tmp_path):
    from keras_inpaint.training import train

    recipe = load_recipe(DEFAULT_RECIPE)
    recipe["image_size"] = 32
    with pytest.raises(ValueError, match="generator.config.image_size is 64 but the recipe's"):
        train(recipe, out_dir=tmp_path / "run", export=False, verbose=0)
    assert not (tmp_path / "run").exists()
