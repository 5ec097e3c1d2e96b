"""Outputs never replace inputs and are written atomically; model names stay one folder name.

Case ids (`out-...` for output files and the checks made before a model
loads, `name-...` for model names, `version-...` for export folders) are the
rows of docs/RELIABILITY.md's "Outputs and names" table; the last test keeps
the two in step.
"""

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from bad_input_support import (
    box_mask,
    case_ids,
    documented_case_ids,
    photo,
    write_png,
)
from test_case import tiny_context_encoder

from keras_inpaint import evaluation_command, inference, model_names, output_files
from keras_inpaint.cli import main
from keras_inpaint.export import (
    EXPORT_INFO_FILE,
    check_model_name,
    export_max_side,
    export_saved_model,
    is_abandoned_staging,
    next_version,
    numbered_versions,
)
from keras_inpaint.export import saved_model as saved_model_module


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny `.keras` model, an image and a mask, shared by the module (never written to)."""
    folder = tmp_path_factory.mktemp("outputs")
    tiny_context_encoder(name="tiny").save(folder / "tiny.keras")
    return {
        "keras": folder / "tiny.keras",
        "image": write_png(folder / "image.png", photo(0)),
        "mask": write_png(folder / "mask.png", box_mask()),
    }


def run_main(argv, capsys):
    """`main(argv)`'s exit status and stderr; argparse's exits count as statuses too."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err


def assert_error(status, err, command, message, only_line=True):
    """An error line from `command` holding `message` (the only line, or the last), status 2."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, err
    assert len(lines) == 1 or not only_line, err
    assert lines[-1].startswith(f"keras-inpaint {command}: error: "), err
    assert message in lines[-1] and "Traceback" not in err, err


def partials(folder):
    """Temporary output files left in `folder`."""
    return sorted(path.name for path in folder.iterdir() if path.name.startswith(".partial-"))


def snapshot(folder):
    """Every path under `folder` with its bytes (None for folders)."""
    return {
        path.relative_to(folder).as_posix(): None if path.is_dir() else path.read_bytes()
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture
def no_model_load(monkeypatch):
    """Any model or export load fails the test: the check under test must come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the check")

    monkeypatch.setattr(inference, "load_model", refuse)
    monkeypatch.setattr(inference, "_load_saved_model", refuse)


@contextlib.contextmanager
def file_size_limit(limit):
    """Writes past `limit` bytes of any file fail with EFBIG, as on a disk that fills up."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    # Without this the kernel's SIGXFSZ would kill the test process.
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def inpaint_argv(files, out, image=None, mask=None, model=None):
    return [
        "inpaint",
        "--model",
        str(model or files["keras"]),
        "--image",
        str(image or files["image"]),
        "--mask",
        str(mask or files["mask"]),
        "--out",
        str(out),
    ]


def _copy_inputs(files, tmp_path):
    """The image and mask copied into tmp_path (these tests try to overwrite them)."""
    image = tmp_path / "image.png"
    mask = tmp_path / "mask.png"
    image.write_bytes(files["image"].read_bytes())
    mask.write_bytes(files["mask"].read_bytes())
    return image, mask


def _symlink(tmp_path, target):
    link = tmp_path / "link.png"
    link.symlink_to(target)
    return link


def _hard_link(tmp_path, target):
    link = tmp_path / "linked.png"
    os.link(target, link)
    return link


# (out path builder(tmp_path, image, mask) -> --out, message).
OUT_IS_INPUT = [
    pytest.param(
        lambda tmp_path, image, mask: image,
        "is the same file as the image",
        id="out-inpaint-out-is-image",
    ),
    pytest.param(
        lambda tmp_path, image, mask: mask,
        "is the same file as the mask",
        id="out-inpaint-out-is-mask",
    ),
    pytest.param(
        lambda tmp_path, image, mask: tmp_path / "sub" / ".." / "image.png",
        "is the same file as the image",
        id="out-inpaint-out-is-image-other-spelling",
    ),
    pytest.param(
        lambda tmp_path, image, mask: _symlink(tmp_path, image),
        "is the same file as the image",
        id="out-inpaint-out-symlink-to-image",
    ),
    pytest.param(
        lambda tmp_path, image, mask: _hard_link(tmp_path, mask),
        "is the same file as the mask",
        id="out-inpaint-out-hard-link-to-mask",
    ),
]


@pytest.mark.parametrize(("make_out", "message"), OUT_IS_INPUT)
def test_inpaint_refuses_an_output_that_is_an_input(
    files, tmp_path, capsys, no_model_load, make_out, message
):
    image, mask = _copy_inputs(files, tmp_path)
    (tmp_path / "sub").mkdir()
    out = make_out(tmp_path, image, mask)
    before = snapshot(tmp_path)
    status, err = run_main(inpaint_argv(files, out, image=image, mask=mask), capsys)
    assert_error(status, err, "inpaint", message)
    assert "writing it would replace the input; give another output file name" in err
    assert snapshot(tmp_path) == before, "a refused run changed an input"


def test_inpaint_replaces_an_earlier_output_atomically(files, tmp_path, monkeypatch):
    """Case `out-inpaint-atomic-replace`: the output appears whole, by one rename."""
    out = tmp_path / "out.png"
    out.write_bytes(b"an earlier result")
    renames = []
    real_replace = os.replace

    def replace(source, target):
        renames.append((os.path.basename(source), os.path.basename(target)))
        real_replace(source, target)

    monkeypatch.setattr(output_files.os, "replace", replace)
    assert main(inpaint_argv(files, out)) == 0
    assert tf.io.decode_png(out.read_bytes()).shape == (32, 32, 3)
    assert len(renames) == 1 and renames[0][1] == "out.png"
    assert renames[0][0].startswith(".partial-") and renames[0][0].endswith("-out.png")
    assert partials(tmp_path) == []


@pytest.mark.large
def test_inpaint_write_failure_keeps_the_earlier_output(files, tmp_path, capsys, monkeypatch):
    """Case `out-inpaint-write-fails`: the disk fills mid-write; the old file is intact."""
    out = tmp_path / "out.png"
    out.write_bytes(b"an earlier result")
    real_encode = tf.io.encode_png
    limit = contextlib.ExitStack()

    def encode_then_fill_the_disk(pixels):
        encoded = real_encode(pixels)
        # From here on, a write stops 100 bytes into any file.
        limit.enter_context(file_size_limit(100))
        return encoded

    monkeypatch.setattr(inference.tf.io, "encode_png", encode_then_fill_the_disk)
    with limit:
        status, err = run_main(inpaint_argv(files, out), capsys)
    assert_error(status, err, "inpaint", "File too large")
    assert out.read_bytes() == b"an earlier result"
    assert partials(tmp_path) == []


def _read_only_folder(tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() == 0:
        # Root writes through file modes; a read-only file system refuses even root,
        # and os.access says so: emulate that answer for this folder.
        real_access = os.access
        monkeypatch.setattr(
            output_files.os,
            "access",
            lambda path, mode: False if str(path) == str(folder) else real_access(path, mode),
        )
    else:
        folder.chmod(0o555)
    return folder / "out.png"


def _parent_is_a_file(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    return tmp_path / "notes.txt" / "out.png"


# (out path builder(tmp_path, monkeypatch) -> --out, message).
UNWRITABLE_OUT = [
    pytest.param(
        _read_only_folder,
        "locked is not writable; give an output path in a folder you can write to",
        id="out-inpaint-read-only-folder",
    ),
    pytest.param(
        _parent_is_a_file,
        "notes.txt is a file, not a folder; give an output path in a folder",
        id="out-inpaint-out-under-a-file",
    ),
]


@pytest.mark.parametrize(("make_out", "message"), UNWRITABLE_OUT)
def test_inpaint_checks_the_output_folder_before_the_model_loads(
    files, tmp_path, capsys, monkeypatch, no_model_load, make_out, message
):
    out = make_out(tmp_path, monkeypatch)
    status, err = run_main(inpaint_argv(files, out), capsys)
    assert_error(status, err, "inpaint", message)
    assert not out.exists()


def test_inpaint_creates_missing_output_folders(files, tmp_path):
    """Case `out-inpaint-missing-folders`: made when the output is written, not before."""
    out = tmp_path / "new" / "deeper" / "out.png"
    assert main(inpaint_argv(files, out)) == 0
    assert out.is_file() and partials(out.parent) == []


def test_inpaint_names_a_missing_mask_file(files, tmp_path, capsys, no_model_load):
    """Case `out-inpaint-missing-mask`: the message says mask file, not image file."""
    status, err = run_main(inpaint_argv(files, tmp_path / "out.png", mask="nowhere.png"), capsys)
    assert_error(status, err, "inpaint", "mask file nowhere.png does not exist; give the path")
    assert "image file" not in err


@pytest.fixture(scope="module")
def export_16(files, tmp_path_factory):
    """A real export of the tiny model that takes images up to 16 px on a side."""
    base = tmp_path_factory.mktemp("exports")
    return export_saved_model(tiny_context_encoder(name="tiny"), base, name="tiny", max_side=16)


@pytest.mark.large
def test_inpaint_checks_max_side_from_the_header(files, tmp_path, capsys, export_16, monkeypatch):
    """Cases `out-inpaint-max-side-export`, `out-inpaint-max-side-keras`: refused from the
    image's header, before its pixels are decoded or the model loads."""
    assert export_max_side(export_16) == 16
    assert (export_16 / EXPORT_INFO_FILE).is_file()

    def no_decoding(*args, **kwargs):
        raise AssertionError("the image was decoded before the size check")

    monkeypatch.setattr(inference, "read_image_file", no_decoding)
    monkeypatch.setattr(inference, "_load_saved_model", no_decoding)
    monkeypatch.setattr(inference, "load_model", no_decoding)
    status, err = run_main(inpaint_argv(files, tmp_path / "a.png", model=export_16), capsys)
    assert_error(
        status,
        err,
        "inpaint",
        "is 32x32 (width x height): this model takes images of at most 16 px on a side "
        "(export option max_side); crop or downscale the image and its mask",
    )
    wide = write_png(tmp_path / "wide.png", np.zeros((4, 2049, 3), np.uint8))
    wide_mask = write_png(tmp_path / "wide_mask.png", np.zeros((4, 2049, 1), np.uint8))
    status, err = run_main(
        inpaint_argv(files, tmp_path / "b.png", image=wide, mask=wide_mask), capsys
    )
    assert_error(
        status,
        err,
        "inpaint",
        "is 2049x4 (width x height): this model takes images of at most 2048 px on a "
        "side (the default max_side; an export of it can take more)",
    )
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "b.png").exists()


def pairs_folder(root):
    """`root/images/pN.png` and `root/masks/pN.png`, two pairs."""
    for index in range(2):
        write_png(root / "images" / f"p{index}.png", photo(index))
        write_png(root / "masks" / f"p{index}.png", box_mask())
    return root


def evaluate_argv(pairs, **outputs):
    argv = ["evaluate", "--pairs", str(pairs), "--baselines", "mean"]
    for option, path in outputs.items():
        argv += [f"--{option}", str(path)]
    return argv


# (outputs builder(pairs folder, tmp_path) -> {option: path}, message).
EVAL_OUT_IS_INPUT = [
    pytest.param(
        lambda pairs, tmp_path: {"sheet": pairs / "images" / "p0.png"},
        "--sheet {pairs}/images/p0.png is the same file as --pairs",
        id="out-eval-sheet-is-image",
    ),
    pytest.param(
        lambda pairs, tmp_path: {"csv": pairs / "masks" / "p1.png"},
        "--csv {pairs}/masks/p1.png is the same file as --pairs",
        id="out-eval-csv-is-mask",
    ),
    pytest.param(
        lambda pairs, tmp_path: {"json": _hard_link(tmp_path, pairs / "images" / "p1.png")},
        "is the same file as --pairs {pairs}/images/p1.png",
        id="out-eval-json-hard-link-to-image",
    ),
    pytest.param(
        lambda pairs, tmp_path: {"json": tmp_path / "r.txt", "csv": tmp_path / "r.txt"},
        "--csv {tmp}/r.txt is the same file as --json {tmp}/r.txt",
        id="out-eval-json-and-csv-same-file",
    ),
    pytest.param(
        lambda pairs, tmp_path: {"csv": tmp_path / "notes.txt" / "rows.csv"},
        "notes.txt is a file, not a folder",
        id="out-eval-out-under-a-file",
    ),
]


@pytest.mark.parametrize(("make_outputs", "message"), EVAL_OUT_IS_INPUT)
def test_evaluate_refuses_outputs_that_are_inputs(
    tmp_path, capsys, monkeypatch, make_outputs, message
):
    pairs = pairs_folder(tmp_path / "pairs")
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    outputs = make_outputs(pairs, tmp_path)

    def no_reading(*args, **kwargs):
        raise AssertionError("the pairs were read before the output check")

    monkeypatch.setattr(evaluation_command, "load_pairs", no_reading)
    before = snapshot(tmp_path)
    status, err = run_main(evaluate_argv(pairs, **outputs), capsys)
    assert_error(status, err, "evaluate", message.format(pairs=pairs, tmp=tmp_path))
    assert snapshot(tmp_path) == before


EVAL_WRITE_FAILS = [
    pytest.param("json", id="out-eval-json-write-fails"),
    pytest.param("csv", id="out-eval-csv-write-fails"),
    pytest.param("sheet", id="out-eval-sheet-write-fails"),
]


@pytest.mark.parametrize("option", EVAL_WRITE_FAILS)
def test_evaluate_write_failure_keeps_the_earlier_file(tmp_path, capsys, monkeypatch, option):
    pairs = pairs_folder(tmp_path / "pairs")
    out = tmp_path / "results" / f"eval.{'png' if option == 'sheet' else option}"
    out.parent.mkdir()
    out.write_bytes(b"an earlier result")
    real_summary = evaluation_command.format_summary
    limit = contextlib.ExitStack()

    def summary_then_fill_the_disk(report):
        text = real_summary(report)
        # The scores are done; every write from here on stops 100 bytes into a file.
        limit.enter_context(file_size_limit(100))
        return text

    monkeypatch.setattr(evaluation_command, "format_summary", summary_then_fill_the_disk)
    with limit:
        status, err = run_main(evaluate_argv(pairs, **{option: out}), capsys)
    # The progress lines come first: the failure is after the scores.
    assert_error(status, err, "evaluate", "File too large", only_line=False)
    assert out.read_bytes() == b"an earlier result"
    assert partials(out.parent) == []


def test_evaluate_writes_every_output_whole(tmp_path):
    """Case `out-eval-outputs-written`: JSON, CSV and sheet replace earlier files."""
    pairs = pairs_folder(tmp_path / "pairs")
    outs = {"json": tmp_path / "e.json", "csv": tmp_path / "e.csv", "sheet": tmp_path / "e.png"}
    for path in outs.values():
        path.write_bytes(b"old")
    assert main(evaluate_argv(pairs, **outs)) == 0
    assert outs["json"].read_text().startswith("{")
    assert outs["csv"].read_text().startswith("image,method,hole_ratio")
    assert outs["sheet"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert partials(tmp_path) == []


# (--name value, as passed after `--name=`).
BAD_NAMES = [
    pytest.param("..", id="name-dot-dot"),
    pytest.param(".", id="name-dot"),
    pytest.param("", id="name-empty"),
    pytest.param("a/b", id="name-slash"),
    pytest.param("../escaped", id="name-parent-path"),
    pytest.param("a\\b", id="name-backslash"),
    pytest.param("a\0b", id="name-nul"),
    pytest.param("a\nb", id="name-newline"),
    pytest.param(".hidden", id="name-hidden"),
    pytest.param("-rf", id="name-leading-dash"),
    pytest.param("my model", id="name-space"),
    pytest.param("a:predict", id="name-colon"),
    pytest.param("x" * 256, id="name-too-long"),
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_export_refuses_unsafe_names_and_writes_nothing(files, tmp_path, capsys, name):
    base = tmp_path / "area" / "exports"
    base.mkdir(parents=True)
    before = snapshot(tmp_path)
    status, err = run_main(
        ["export", str(files["keras"]), "--base", str(base), f"--name={name}"], capsys
    )
    assert_error(status, err, "export", f"model name {name!r} is not allowed: a model name is")
    assert model_names.MODEL_NAME_RULE in err and "pass --name NAME" in err
    assert snapshot(tmp_path) == before, "something was written"


def test_good_names_pass_and_the_server_applies_the_same_rule(tmp_path):
    """Cases `name-good`, `name-serve-same-rule`: one function decides for export and serve."""
    from keras_inpaint.serving import server

    for name in ("quickstart", "glcic_photos", "ce-128.v2", "A1", "x" * 255):
        assert check_model_name(name) == name
    assert server.check_model_name is check_model_name is model_names.check_model_name
    for name in ("my model", ".hidden", "a:b"):
        folder = tmp_path / name
        (folder / "1").mkdir(parents=True)
        with pytest.raises(ValueError) as error:
            server.build_server([folder])
        message = str(error.value)
        assert f"model name {name!r} is not allowed" in message
        assert model_names.MODEL_NAME_RULE in message and "rename the model folder" in message


def test_export_name_of_a_hidden_run_folder_is_refused(tmp_path):
    """Case `name-default-from-folder`: the default name follows the rule too."""
    with pytest.raises(ValueError, match=r"model name '\.run' is not allowed"):
        saved_model_module.export_name(tmp_path / ".run")


def fake_write_version(model, staging, name, rule, max_side):
    """Writes a version's files in an instant (the real writer takes seconds)."""
    (staging / "saved_model.pb").write_bytes(b"not a real graph")


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _age(folder, seconds):
    then = time.time() - seconds
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (then, then))


def _staging(model_dir, pid=None, host=None, age=0):
    """A temporary export folder with one file, as a killed export leaves it."""
    token = os.urandom(16).hex()
    owner = "" if pid is None else f"{host or saved_model_module._host_label()}-{pid}-"
    folder = model_dir / f".tmp-1-{owner}{token}"
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"half")
    _age(folder, age)
    return folder


# (staging folder builder(model_dir), removed by the next export).
STAGING = [
    pytest.param(
        lambda d: _staging(d, pid=_dead_pid(), age=180), True, id="version-tmp-dead-writer"
    ),
    pytest.param(lambda d: _staging(d, age=2 * 3600), True, id="version-tmp-old"),
    pytest.param(lambda d: _staging(d, pid=_dead_pid(), age=10), False, id="version-tmp-recent"),
    pytest.param(
        lambda d: _staging(d, pid=os.getppid(), age=180), False, id="version-tmp-live-writer"
    ),
    pytest.param(
        lambda d: _staging(d, pid=_dead_pid(), host="otherhost", age=180),
        False,
        id="version-tmp-other-host",
    ),
    pytest.param(lambda d: _staging(d, age=180), False, id="version-tmp-old-name-recent"),
]


@pytest.mark.parametrize(("make_staging", "removed"), STAGING)
def test_the_next_export_removes_abandoned_temporary_folders(
    tmp_path, monkeypatch, make_staging, removed
):
    model_dir = tmp_path / "exports" / "tiny"
    staging = make_staging(model_dir)
    sibling = _staging(model_dir.parent / "other", age=2 * 3600)
    assert is_abandoned_staging(staging) is removed
    monkeypatch.setattr(saved_model_module, "_write_version", fake_write_version)
    version = export_saved_model(tiny_context_encoder(name="tiny"), model_dir.parent, name="tiny")
    assert version == model_dir / "1"
    assert staging.exists() is not removed
    # Only the model folder exported to is cleaned.
    assert sibling.exists()


def test_versions_and_serving_ignore_temporary_folders(tmp_path, monkeypatch):
    """Case `version-tmp-ignored`: a `.tmp-*` folder with a saved_model.pb is no version."""
    from keras_inpaint.serving.server import latest_version

    model_dir = tmp_path / "tiny"
    monkeypatch.setattr(saved_model_module, "_write_version", fake_write_version)
    export_saved_model(tiny_context_encoder(name="tiny"), tmp_path, name="tiny")
    staging = model_dir / f".tmp-7-{socket.gethostname()}-{os.getpid()}-{'0' * 32}"
    staging.mkdir()
    (staging / "saved_model.pb").write_bytes(b"half")
    assert numbered_versions(model_dir) == [1] and next_version(model_dir) == 2
    assert latest_version(model_dir) == (1, model_dir / "1")
    assert inference._export_versions(model_dir) == [1]


def test_exporting_again_says_an_earlier_version_exists(files, tmp_path, capsys, monkeypatch):
    """Case `version-export-twice`: the second version is written and the user is told."""
    monkeypatch.setattr(saved_model_module, "_write_version", fake_write_version)
    argv = ["export", str(files["keras"]), "--base", str(tmp_path)]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert "already existed" not in first.err and first.out.strip() == str(tmp_path / "tiny" / "1")
    assert main(argv) == 0
    second = capsys.readouterr()
    assert second.out.strip() == str(tmp_path / "tiny" / "2")
    assert (
        f"wrote new version 2 ({tmp_path / 'tiny' / '2'}); version 1 already existed under "
        f"{tmp_path / 'tiny'} and is kept (TF Serving serves the highest)" in second.err
    )


@pytest.mark.large
def test_a_finished_run_is_not_exported_again(tmp_path, monkeypatch, caplog):
    """Case `version-train-rerun`: re-running a finished run writes no second version."""
    from keras_inpaint.training import load_recipe, train

    recipe = load_recipe("context_encoder/builtin_64")
    recipe["generator"]["config"].update(
        encoder_filters=[4, 4, 4, 4], bottleneck=8, decoder_filters=[4, 4, 4, 4]
    )
    recipe["discriminator"]["config"].update(filters=4)
    recipe["training"] = {"batch_size": 2, "epochs": 1, "steps_per_epoch": 1}
    recipe["training"]["validation_batches"] = 1
    monkeypatch.setattr(saved_model_module, "_write_version", fake_write_version)
    run = tmp_path / "run"
    first = train(recipe, out_dir=run, verbose=0)
    assert first["export"] == str(run / "export" / "run" / "1")
    again = train(recipe, out_dir=run, verbose=0)
    assert again["export"] is None
    assert numbered_versions(run / "export" / "run") == [1]
    assert "not training or exporting it again" in caplog.text


WORKS_BY_RULE = [
    "out-inpaint-atomic-replace",
    "out-inpaint-write-fails",
    "out-inpaint-missing-folders",
    "out-inpaint-missing-mask",
    "out-inpaint-max-side-export",
    "out-inpaint-max-side-keras",
    "out-eval-outputs-written",
    "name-good",
    "name-serve-same-rule",
    "name-default-from-folder",
    "version-tmp-ignored",
    "version-export-twice",
    "version-train-rerun",
]


def test_docs_table_lists_every_case():
    tested = case_ids(OUT_IS_INPUT, UNWRITABLE_OUT, EVAL_OUT_IS_INPUT, EVAL_WRITE_FAILS)
    tested |= case_ids(BAD_NAMES, STAGING) | set(WORKS_BY_RULE)
    documented = set()
    for prefix in ("out", "name", "version"):
        documented |= documented_case_ids(prefix)
    assert documented == tested
