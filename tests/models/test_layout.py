"""tests/models mirrors keras_inpaint/models: one test folder per architecture."""

from pathlib import Path

import keras_inpaint.models

PACKAGES = Path(keras_inpaint.models.__file__).parent
TESTS = Path(__file__).parent


def architecture_packages():
    return sorted(path.parent.name for path in PACKAGES.glob("*/__init__.py"))


def test_every_architecture_has_its_test_folder():
    for name in architecture_packages():
        folder = TESTS / name
        assert sorted(folder.glob("test_*.py")), (
            f"keras_inpaint/models/{name} has no tests: add tests/models/{name}/test_*.py"
        )


def test_every_test_folder_is_an_architecture():
    folders = sorted(path.name for path in TESTS.iterdir() if path.is_dir())
    folders = [name for name in folders if name != "__pycache__"]
    assert folders == architecture_packages()


def test_family_tests_live_in_their_folder():
    """Only the base class and tests spanning every family stay at the top."""
    for path in TESTS.glob("test_*.py"):
        for name in architecture_packages():
            assert name not in path.stem, f"move {path.name} to tests/models/{name}/"
