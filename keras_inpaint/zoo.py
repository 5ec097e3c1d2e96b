"""The zoo listing: every recipe under `models/` with its networks and parameter counts.

Example:
    >>> from keras_inpaint.zoo import zoo_entries
    >>> entries = zoo_entries()
    >>> entries[0]["recipe"]                                  # doctest: +SKIP
    'context_encoder/builtin_64'
"""

import json

import keras

from keras_inpaint.resources import resource_dir
from keras_inpaint.training.recipes import build_networks, load_recipe


def trainable_params(model):
    """Trainable parameter count of a model or layer."""
    return int(sum(keras.ops.size(variable) for variable in model.trainable_variables))


def describe_network(model):
    """`{"class", "trainable_params", "submodules"}` for one network."""
    description = {"class": type(model).__name__, "trainable_params": trainable_params(model)}
    if hasattr(model, "submodule_params"):
        description["submodules"] = model.submodule_params()
    return description


def zoo_entries():
    """One dict per recipe: name, description, image size, and each network's counts."""
    folder = resource_dir("models")
    entries = []
    for path in sorted(folder.rglob("*.json")):
        name = str(path.relative_to(folder).with_suffix(""))
        recipe = load_recipe(path)
        generator, discriminator = build_networks(recipe)
        networks = {"generator": describe_network(generator)}
        if discriminator is not None:
            networks["discriminator"] = describe_network(discriminator)
        entries.append(
            {
                "recipe": name,
                "description": recipe.get("description", ""),
                "image_size": recipe["image_size"],
                "networks": networks,
            }
        )
        keras.backend.clear_session()
    return entries


def format_table(entries):
    """A plain-text table of the entries for the terminal."""
    lines = [f"{'recipe':<36} {'size':>5}  {'network':<14} {'class':<28} {'params':>12}"]
    for entry in entries:
        for role, network in entry["networks"].items():
            lines.append(
                f"{entry['recipe']:<36} {entry['image_size']:>5}  {role:<14} "
                f"{network['class']:<28} {network['trainable_params']:>12,}"
            )
            for part, count in network.get("submodules", {}).items():
                lines.append(f"{'':<36} {'':>5}  {'  ' + part:<14} {'':<28} {count:>12,}")
    return "\n".join(lines)


def zoo_json(entries):
    return json.dumps(entries, indent=2)
