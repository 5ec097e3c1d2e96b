"""The zoo listing: every recipe under `models/` with its networks and parameter counts,
and every shipped preset with its validation scores (read from its metadata).

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


def preset_entries():
    """One dict per shipped preset: name, family, params, validation PSNR/SSIM and baselines'."""
    from keras_inpaint import presets

    entries = []
    for name in presets.list():
        metadata = presets.metadata(name)
        summary = metadata.get("validation", {}).get("summary", {})
        entries.append(
            {
                "preset": name,
                "default": bool(metadata.get("default")),
                "family": metadata.get("family", ""),
                "generator": metadata.get("generator_class", ""),
                "trainable_params": metadata.get("trainable_params"),
                "validation": {
                    method: {"psnr": values["psnr"], "ssim": values["ssim"]}
                    for method, values in summary.items()
                },
            }
        )
    return entries


def format_presets(entries):
    """A plain-text table of the presets: validation PSNR / SSIM next to push-pull's."""
    lines = [
        f"{'preset':<28} {'family':<16} {'params':>10}  {'PSNR':>6} {'SSIM':>6}  "
        f"{'push-pull PSNR':>14} {'SSIM':>6}"
    ]
    for entry in entries:
        name = entry["preset"] + (" (default)" if entry["default"] else "")
        own = entry["validation"].get(entry["preset"], {})
        bar = entry["validation"].get("push_pull", {})
        cells = [f"{own.get(k, float('nan')):>6.{d}f}" for k, d in (("psnr", 2), ("ssim", 3))]
        bars = [f"{bar.get('psnr', float('nan')):>14.2f}", f"{bar.get('ssim', float('nan')):>6.3f}"]
        lines.append(
            f"{name:<28} {entry['family']:<16} {entry['trainable_params'] or 0:>10,}  "
            + " ".join(cells)
            + "  "
            + " ".join(bars)
        )
    if not entries:
        lines.append("(no preset ships with this version)")
    return "\n".join(lines)
