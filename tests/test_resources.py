"""Finding recipes and data specs by name or path."""

import pytest

from keras_inpaint.resources import resolve_json, resource_dir


def test_resource_dirs_exist():
    assert resource_dir("models").is_dir() and resource_dir("data_pipelines").is_dir()


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown resource kind"):
        resource_dir("weights")


@pytest.mark.parametrize(
    "name",
    [
        "context_encoder/center_128",
        "models/context_encoder/center_128.json",
        "center_128",
    ],
)
def test_a_recipe_by_any_of_its_names(name):
    expected = resource_dir("models") / "context_encoder" / "center_128.json"
    assert resolve_json("models", name).resolve() == expected.resolve()


def test_environment_variable_points_at_another_root(tmp_path, monkeypatch):
    (tmp_path / "models" / "mine").mkdir(parents=True)
    (tmp_path / "models" / "mine" / "r.json").write_text("{}")
    monkeypatch.setenv("KERAS_INPAINT_HOME", str(tmp_path))
    assert resolve_json("models", "mine/r") == tmp_path / "models" / "mine" / "r.json"


def test_an_ambiguous_short_name_is_refused(tmp_path, monkeypatch):
    for entry in ("one", "two"):
        (tmp_path / "models" / entry).mkdir(parents=True)
        (tmp_path / "models" / entry / "same.json").write_text("{}")
    monkeypatch.setenv("KERAS_INPAINT_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="ambiguous.*one/same, two/same"):
        resolve_json("models", "same")


def test_missing_name_lists_what_exists():
    with pytest.raises(ValueError, match="not found; available: .*builtin_64_boxes"):
        resolve_json("data_pipelines", "nothing_like_this")


def test_files_directly_in_models_are_not_recipes():
    assert (resource_dir("models") / "param_counts.json").is_file()
    with pytest.raises(ValueError, match="'param_counts' is not found"):
        resolve_json("models", "param_counts")
