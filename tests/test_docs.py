"""Every shell and Python block of README.md, docs/ and models/*/README.md runs as written.

The rules a block follows (docs/ARCHITECTURE.md, "Executable docs"):

- A ```bash or ```python block is run: all documents in one scratch folder,
  each document's blocks in order (a later block may use what an earlier one
  wrote, e.g. `runs/glcic_run`). Two lanes run at once, each its documents in
  order: README.md then docs/ (which read README's `runs/quickstart` and
  `exports/quickstart`), and models/*/README.md (which read only the scratch
  files and their own outputs). One test per document says which failed.
- A block whose fence reads ```bash (not run: REASON) is not run, and says
  why (needs Docker, starts a server that runs until stopped, is the test
  suite itself...). Its `keras-inpaint` commands are still parsed by the
  CLI, and its relative `--model-dir` folders must exist, so a renamed flag
  or export path fails here too.
- ```text blocks show output, ```json blocks data (which must parse). A
  block with no language is refused: say which of these it is.

Tiny settings, the only changes made to what a user would type:
`python -m pip install ...` is skipped (the test environment has the
package and its extras), every `keras-inpaint train` gets
`--epochs 1 --steps-per-epoch 1 --batch-size 2` appended (argparse keeps
the last value given) and `--no-export` unless a document reads its run's
`export/` folder, and `$PHOTOS` names a generated corpus shaped like the
photo corpus (images/, train.txt, val.txt). The scratch folder also holds the
files the docs' commands name (photo.png, hole.png, my_pairs/, my_photos/...)
and links to the repository's data_pipelines/, docs/ and export.py.

Bash blocks run without `TF_CPP_MIN_LOG_LEVEL`, as a user starts them, and
their stderr must hold none of TensorFlow's C++ log lines: the command line
keeps them off (tests/test_cli_quiet.py has the filter's own tests).
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from test_case import TENSORFLOW_NOISE, write_photos

ROOT = Path(__file__).resolve().parent.parent
# Run side by side (CI has 2 cores; a block's commands mostly keep one busy).
LANES = (
    [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))],
    sorted((ROOT / "models").glob("*/README.md")),
)
DOCUMENTS = [document for lane in LANES for document in lane]
FENCE = re.compile(r"^```(\w*)\s*(?:\(not run: (?P<reason>[^)]+)\))?\s*$")
RUN_LANGUAGES = {"bash", "python"}
TINY_TRAINING = " --epochs 1 --steps-per-epoch 1 --batch-size 2"
DOCS_TEXT = "\n".join(document.read_text() for document in DOCUMENTS)
BLOCK_TIMEOUT_S = 900
SHELL_OPERATORS = {"|", ">", ">>", "2>", "2>&1", ";", "&"}


def blocks(document):
    """(line, language, not-run reason or None, body) of each fenced block."""
    lines = document.read_text().splitlines()
    found, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            if lines[index].lstrip().startswith("```"):
                raise AssertionError(f"{document}:{index + 1}: unreadable fence {lines[index]!r}")
            index += 1
            continue
        end = index + 1
        while not lines[end].lstrip().startswith("```"):
            end += 1
        body = "\n".join(lines[index + 1 : end]) + "\n"
        found.append((index + 1, opening.group(1), opening.group("reason"), body))
        index = end + 1
    return found


def commands(body):
    """The logical lines of a shell block (continuations joined), comments dropped."""
    joined = body.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip()]


def cli_arguments(line):
    """The argument lists of the `keras-inpaint` commands on one shell line."""
    found = []
    for segment in line.split("&&"):
        if "keras-inpaint" not in segment:
            continue  # (curl's JSON bodies span lines: only our commands are parsed)
        tokens = shlex.split(segment.replace("$PHOTOS", "photos"), comments=True)
        if "keras-inpaint" in tokens:
            arguments = tokens[tokens.index("keras-inpaint") + 1 :]
            # The command ends at a pipe or a redirection.
            ends = [i for i, token in enumerate(arguments) if token in SHELL_OPERATORS]
            found.append(arguments[: min(ends, default=len(arguments))])
    return found


def tiny(line, docs_text=DOCS_TEXT):
    """The shell line with tiny settings (see the module docstring)."""
    segments = []
    for segment in line.split("&&"):
        if segment.strip().startswith("python -m pip install"):
            segment = " true "
        elif re.search(r"keras-inpaint (--debug )?train\b", segment):
            # The flags go before a comment, a redirection or a pipe.
            end = min(
                [segment.find(tail) for tail in ("  #", " 2>&1", " | ", " > ") if tail in segment]
                or [len(segment)]
            )
            flags = TINY_TRAINING
            out = re.search(r"--out (\S+)", segment)
            if out is None or f"{out.group(1)}/export" not in docs_text:
                flags += " --no-export"  # no block reads its automatic export
            segment = segment[:end].rstrip() + flags + segment[end:]
        segments.append(segment)
    return "&&".join(segments)


def write_image(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def make_scratch(folder):
    """The files and folders the docs' commands name."""
    rng = np.random.default_rng(0)
    write_photos(folder / "photos" / "images", count=6, size=256, heldout=2)
    for name in ("train.txt", "val.txt"):
        (folder / "photos" / "images" / name).rename(folder / "photos" / name)
    write_photos(folder / "my_photos", count=6, size=160, heldout=2)
    write_photos(folder / "data" / "images" / "train", count=4, size=160, heldout=1)
    write_photos(folder / "data" / "images" / "heldout", count=2, size=160, heldout=1)
    # 128x128: the size README's center_128 Context Encoder takes.
    photo = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    hole = np.zeros((128, 128), np.uint8)
    hole[30:60, 40:90] = 255
    for name in ("photo.png", "photo.jpg", "my_pairs/images/a.png"):
        write_image(folder / name, photo)
    for name in ("hole.png", "mask.png", "my_pairs/masks/a.png"):
        write_image(folder / name, hole)
    for name in ("data_pipelines", "docs", "export.py"):
        (folder / name).symlink_to(ROOT / name)


def check_cli_parses(where, body):
    from keras_inpaint import cli

    parser = cli.build_parser()
    for line in commands(body):
        for arguments in cli_arguments(line):
            try:
                parser.parse_args(arguments)
            except SystemExit:
                pytest.fail(f"{where}: `keras-inpaint {shlex.join(arguments)}` does not parse")


def check_model_dirs_exist(where, body, scratch):
    for line in commands(body):
        for arguments in cli_arguments(line):
            for flag, value in zip(arguments, arguments[1:], strict=False):
                if flag == "--model-dir" and not Path(value).is_absolute():
                    assert (scratch / value).is_dir(), f"{where}: --model-dir {value} is missing"


def run_block(where, language, body, scratch, env, script_name):
    if language == "python":
        script = scratch / script_name
        script.write_text(body)
        argv = [sys.executable, str(script)]
    else:
        script = "\n".join(tiny(line) for line in commands(body))
        argv = ["bash", "-euo", "pipefail", "-c", script]
    completed = subprocess.run(
        argv, cwd=scratch, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S
    )
    assert completed.returncode == 0, (
        f"{where} failed (exit {completed.returncode}):\n{body}\n"
        f"stdout:\n{completed.stdout[-3000:]}\nstderr:\n{completed.stderr[-3000:]}"
    )
    if language == "bash":
        # The command line keeps TensorFlow's C++ log lines off stderr (tests/test_cli_quiet.py).
        noisy = [line for line in completed.stderr.splitlines() if TENSORFLOW_NOISE.search(line)]
        assert not noisy, f"{where}: TensorFlow's log lines reached stderr: {noisy[:3]}"


@dataclass
class DocumentRun:
    """What running one document's blocks gave: block counts, seconds per run block, failure."""

    counts: dict = field(default_factory=lambda: {"run": 0, "not run": 0, "text": 0, "json": 0})
    seconds: dict = field(default_factory=dict)
    failure: BaseException | None = None


def run_document(document, scratch, env, script_name):
    """Check and run one document's blocks in order; stops at its first failing block."""
    result = DocumentRun()
    try:
        for line, language, reason, body in blocks(document):
            where = f"{document.relative_to(ROOT)}:{line}"
            assert language, f"{where}: label the block text, json, bash or python"
            if language == "json":
                json.loads(body)
                result.counts["json"] += 1
            elif language == "text":
                result.counts["text"] += 1
            elif language not in RUN_LANGUAGES:
                pytest.fail(f"{where}: unknown block language {language!r}")
            elif reason:
                check_cli_parses(where, body)
                check_model_dirs_exist(where, body, scratch)
                result.counts["not run"] += 1
            else:
                check_cli_parses(where, body)
                start = time.perf_counter()
                run_block(where, language, body, scratch, env, script_name)
                result.seconds[where] = time.perf_counter() - start
                result.counts["run"] += 1
    except BaseException as failure:  # pytest.fail raises a BaseException
        result.failure = failure
    return result


def run_lane(documents, scratch, env, script_name, runs):
    """Run `documents` one after the other, setting each one's Future in `runs`."""
    for document in documents:
        runs[document].set_result(run_document(document, scratch, env, script_name))


def selected_documents(items):
    """The documents whose `test_every_block_runs_or_says_why_not` case is selected.

    A document under docs/ brings README.md, whose outputs it reads.
    """
    chosen = {
        item.callspec.params["document"]
        for item in items
        if getattr(item, "originalname", None) == "test_every_block_runs_or_says_why_not"
        and item.module.__name__ == __name__
    }
    if any(document.parent.name == "docs" for document in chosen):
        chosen.add(ROOT / "README.md")
    return chosen


@pytest.fixture(scope="module")
def document_runs(request, tmp_path_factory):
    """Every selected document, its lanes run side by side: `{document: Future of DocumentRun}`."""
    scratch = tmp_path_factory.mktemp("docs") / "scratch"
    scratch.mkdir()
    make_scratch(scratch)
    # As a user starts them: without TF_CPP_MIN_LOG_LEVEL, which hides what the CLI must hide.
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env["PHOTOS"] = str(scratch / "photos")
    chosen = selected_documents(request.session.items)
    runs = {document: Future() for document in chosen}
    with ThreadPoolExecutor(max_workers=len(LANES)) as pool:
        for index, lane in enumerate(LANES):
            documents = [document for document in lane if document in chosen]
            pool.submit(run_lane, documents, scratch, env, f"docs_block_{index}.py", runs)
        yield runs


@pytest.mark.large
@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_block_runs_or_says_why_not(document, document_runs, capsys):
    result = document_runs[document].result()
    slowest = sorted(result.seconds.items(), key=lambda item: -item[1])[:3]
    with capsys.disabled():  # shown in the test run's output
        print(
            f"\n{document.relative_to(ROOT)}: "
            + ", ".join(f"{count} {kind}" for kind, count in result.counts.items())
            + ("; slowest: " + ", ".join(f"{where} {s:.0f} s" for where, s in slowest))
            * bool(slowest)
        )
    if result.failure is not None:
        raise result.failure


def test_most_blocks_run():
    """Only blocks that cannot run are marked `(not run: ...)`."""
    runnable = [
        language
        for document in DOCUMENTS
        for _, language, reason, _ in blocks(document)
        if language in RUN_LANGUAGES and not reason
    ]
    assert len(runnable) >= 15, "most blocks must run: mark only those that cannot"


def test_every_documented_command_parses_and_every_block_is_labelled():
    """The quick half of the check above: no block is run."""
    for document in DOCUMENTS:
        for line, language, _, body in blocks(document):
            where = f"{document.relative_to(ROOT)}:{line}"
            assert language in RUN_LANGUAGES | {"text", "json"}, f"{where}: label the block"
            if language == "bash":
                check_cli_parses(where, body)


def test_tiny_settings_change_only_what_they_say():
    docs = "see runs/q/export/q/1"
    assert tiny("python -m pip install -e . && keras-inpaint train --out runs/q", docs) == (
        " true && keras-inpaint train --out runs/q" + TINY_TRAINING
    )
    assert tiny("nice -n 10 keras-inpaint train --recipe x  # note", docs) == (
        "nice -n 10 keras-inpaint train --recipe x" + TINY_TRAINING + " --no-export  # note"
    )
    assert tiny("keras-inpaint train --out r 2>&1 | grep x", docs) == (
        "keras-inpaint train --out r" + TINY_TRAINING + " --no-export 2>&1 | grep x"
    )
    assert tiny("keras-inpaint zoo --json") == "keras-inpaint zoo --json"
    assert cli_arguments('keras-inpaint evaluate --photos "$PHOTOS/images"  # c') == [
        ["evaluate", "--photos", "photos/images"]
    ]
    assert cli_arguments("keras-inpaint zoo 2>&1 | grep x") == [["zoo"]]


def test_a_renamed_flag_or_missing_export_fails(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="does not parse"):
        check_cli_parses("doc:1", "keras-inpaint export runs/q --bsae exports\n")
    with pytest.raises(AssertionError, match="--model-dir exports/q is missing"):
        check_model_dirs_exist("doc:1", "keras-inpaint serve --model-dir exports/q\n", tmp_path)


def test_a_failing_block_fails_its_document_only(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    failing, passing = tmp_path / "failing.md", tmp_path / "passing.md"
    failing.write_text("```bash\nfalse\n```\n\n```bash\ntouch after\n```\n")
    passing.write_text("```bash\ntouch passed\n```\n")
    runs = {failing: Future(), passing: Future()}
    run_lane([failing, passing], tmp_path, dict(os.environ), "block.py", runs)
    failure = runs[failing].result().failure
    assert isinstance(failure, AssertionError) and "failing.md:1 failed (exit 1)" in str(failure)
    assert not (tmp_path / "after").exists(), "a document stops at its first failing block"
    assert runs[passing].result().failure is None and (tmp_path / "passed").exists()


def test_a_document_under_docs_brings_the_readme():
    def item(document):
        return SimpleNamespace(
            originalname="test_every_block_runs_or_says_why_not",
            module=sys.modules[__name__],
            callspec=SimpleNamespace(params={"document": document}),
        )

    serving, glcic = ROOT / "docs" / "SERVING.md", ROOT / "models" / "glcic" / "README.md"
    assert selected_documents([item(serving)]) == {serving, ROOT / "README.md"}
    assert selected_documents([item(glcic)]) == {glcic}
