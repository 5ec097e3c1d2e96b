"""The zoo listing: every recipe under `models/` with its networks and parameter counts,
and every shipped preset with its validation scores (read from its metadata).

Listing imports no TensorFlow: the parameter counts are read from
`models/param_counts.json`, one entry per recipe, written by
`python -m keras_inpaint.zoo --write-counts` (which builds every network) and
checked against the built networks by tests/test_zoo_counts.py. A recipe
whose entry is missing, or was counted from other network settings (a
fingerprint of its `generator` and `discriminator` entries says which), is
built and counted on the spot instead, so the listing is never stale.

Example:
    >>> from keras_inpaint.zoo import zoo_entries
    >>> entries = zoo_entries()
    >>> entries[0]["recipe"]                                  # doctest: +SKIP
    'context_encoder/alexnet_region_128'
"""

import argparse
import hashlib
import json
import math
import sys

from keras_inpaint.resources import named_files, read_json, resource_dir

COUNTS_FILE = "param_counts.json"
WRITE_COUNTS_COMMAND = "python -m keras_inpaint.zoo --write-counts"


def trainable_params(model):
    """Trainable parameter count of a model or layer."""
    return int(sum(math.prod(variable.shape) for variable in model.trainable_variables))


def describe_network(model):
    """`{"class", "trainable_params", "submodules"}` for one network."""
    description = {"class": type(model).__name__, "trainable_params": trainable_params(model)}
    if hasattr(model, "submodule_params"):
        description["submodules"] = model.submodule_params()
    return description


def count_networks(recipe):
    """`{"generator": ..., "discriminator": ...}` descriptions of a recipe's built networks."""
    import keras

    from keras_inpaint.training.recipes import build_networks

    generator, discriminator = build_networks(recipe)
    networks = {"generator": describe_network(generator)}
    if discriminator is not None:
        networks["discriminator"] = describe_network(discriminator)
    keras.backend.clear_session()
    return networks


def networks_fingerprint(recipe):
    """Hash of the recipe entries that decide its parameter counts."""
    settings = {role: recipe.get(role) for role in ("generator", "discriminator")}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def recipe_name(path):
    """`context_encoder/builtin_64` for `models/context_encoder/builtin_64.json`."""
    return str(path.relative_to(resource_dir("models")).with_suffix(""))


def counts_path():
    return resource_dir("models") / COUNTS_FILE


def stored_counts():
    """The stored counts, `{recipe name: {"networks_sha256", "networks"}}` ({} without a file)."""
    path = counts_path()
    return json.loads(path.read_text()) if path.is_file() else {}


def zoo_entries():
    """One dict per recipe: name, description, image size, and each network's counts."""
    stored = stored_counts()
    entries = []
    for path in named_files("models"):
        name, recipe = recipe_name(path), read_json(path, "recipe")
        counted = stored.get(name, {})
        if counted.get("networks_sha256") == networks_fingerprint(recipe):
            networks = counted["networks"]
        else:
            print(
                f"zoo: building {name} to count its parameters (not in {counts_path()}; "
                f"`{WRITE_COUNTS_COMMAND}` stores them)",
                file=sys.stderr,
            )
            networks = count_networks(recipe)
        entries.append(
            {
                "recipe": name,
                "description": recipe.get("description", ""),
                "image_size": recipe["image_size"],
                "networks": networks,
            }
        )
    return entries


def write_counts():
    """Build every recipe's networks and write their counts to `models/param_counts.json`."""
    from keras_inpaint.output_files import write_text
    from keras_inpaint.training.recipes import load_recipe

    counts = {}
    for path in named_files("models"):
        recipe = load_recipe(path)
        counts[recipe_name(path)] = {
            "networks_sha256": networks_fingerprint(recipe),
            "networks": count_networks(recipe),
        }
    path = counts_path()
    write_text(path, json.dumps(counts, indent=1) + "\n")
    return path, len(counts)


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
    entries = []
    from keras_inpaint import presets

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


def main(argv=None):
    """`python -m keras_inpaint.zoo --write-counts`: rebuild `models/param_counts.json`."""
    parser = argparse.ArgumentParser(
        prog="python -m keras_inpaint.zoo",
        description=f"Rebuild models/{COUNTS_FILE}, which `keras-inpaint zoo` reads.",
    )
    parser.add_argument(
        "--write-counts",
        action="store_true",
        required=True,
        help="build every recipe's networks and store their parameter counts",
    )
    parser.parse_args(argv)
    path, count = write_counts()
    print(f"{path}: parameter counts of {count} recipes")


if __name__ == "__main__":
    main()
