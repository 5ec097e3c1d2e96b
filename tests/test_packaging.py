"""setup.cfg ships every recipe folder and data-spec file: a new zoo entry's `models/<name>/`
without its `[options.data_files]` line would work in a checkout and be missing from an
installed package."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARE = "share/keras_inpaint"


def data_files():
    """`{install folder: [source globs]}` of setup.cfg's `[options.data_files]`."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return {
        folder: [line.strip() for line in globs.strip().splitlines() if line.strip()]
        for folder, globs in config["options.data_files"].items()
    }


def shipped_files():
    shipped = set()
    for folder, globs in data_files().items():
        for pattern in globs:
            matches = sorted(ROOT.glob(pattern))
            assert matches, f"setup.cfg data_files: {pattern} matches no file"
            for path in matches:
                relative = path.relative_to(ROOT)
                assert folder == f"{SHARE}/{relative.parent}", (folder, pattern)
                shipped.add(relative.as_posix())
    return shipped


def test_every_recipe_and_data_spec_is_installed():
    wanted = {
        path.relative_to(ROOT).as_posix()
        for pattern in ("models/*.json", "models/*/*.json", "data_pipelines/*.json")
        for path in ROOT.glob(pattern)
    }
    missing = sorted(wanted - shipped_files())
    assert not missing, (
        f"not installed by setup.cfg: {missing}; add a line "
        f"'{SHARE}/<folder> = <folder>/*.json' to [options.data_files]"
    )
