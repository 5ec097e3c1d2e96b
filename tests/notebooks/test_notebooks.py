"""The Colab notebooks under notebooks/: stored clean, installing from the repository that
setup.cfg names, and running end to end on their SMOKE settings.

Executing needs nbclient, nbformat and ipykernel (the [test] extra). The notebooks run in
a kernel of this interpreter (a `python3` kernel spec written for the test), with
`KERAS_INPAINT_SMOKE=1`, this checkout first on PYTHONPATH, and a temporary folder as
working directory, so their runs and exports never land in the repository.
"""

import configparser
import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = ("quickstart", "zoo_tour", "serving")
# Seconds one cell may take on a busy 2-core CPU (the longest is a training run).
CELL_TIMEOUT = 600
SMOKE_LINE = 'SMOKE = os.environ.get("KERAS_INPAINT_SMOKE") == "1"'


def read_notebook(name):
    return json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text())


def source(cell):
    return "".join(cell["source"])


def repository_url():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config["metadata"]["url"].rstrip("/")


def test_the_notebook_folder_holds_exactly_the_three_notebooks():
    assert sorted(path.stem for path in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_notebooks_carry_no_outputs(name):
    notebook = read_notebook(name)
    assert notebook["nbformat"] == 4
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{name}.ipynb cell {index} has stored outputs"
            assert cell["execution_count"] is None, f"{name}.ipynb cell {index} has a count"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_notebooks_are_valid_nbformat_4(name):
    nbformat = pytest.importorskip("nbformat", reason="nbformat comes with the [test] extra")
    nbformat.validate(nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_badge_and_install_follow_the_repository_url_of_setup_cfg(name):
    url = repository_url()
    repository = url.removeprefix("https://github.com/")
    cells = read_notebook(name)["cells"]
    badge = (
        f"(https://colab.research.google.com/github/{repository}/blob/main/notebooks/{name}.ipynb)"
    )
    assert cells[0]["cell_type"] == "markdown" and badge in source(cells[0])
    code = [source(cell) for cell in cells if cell["cell_type"] == "code"]
    install = code[0]
    assert '"google.colab" in sys.modules' in install
    assert f'%pip install -q "keras-inpaint[serve,baselines] @ git+{url}"' in install
    # Every repository address anywhere in the notebook is setup.cfg's, so one edit moves all.
    text = "\n".join(source(cell) for cell in cells)
    mentioned = re.findall(r"github(?:\.com)?/([\w-]+/[\w.-]+)", text)
    assert {address.removesuffix(".git") for address in mentioned} == {repository}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_first_code_cell_after_the_install_reads_smoke_from_the_environment(name):
    code = [source(cell) for cell in read_notebook(name)["cells"] if cell["cell_type"] == "code"]
    assert SMOKE_LINE in code[1]


def processes_working_in(folder):
    """PIDs of the processes whose working directory is `folder` or below (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone, or not ours to read
            continue
        if cwd == folder or folder in cwd.parents:
            found.append(int(entry.name))
    return found


@pytest.fixture
def python3_kernel(tmp_path, monkeypatch):
    """A `python3` kernel spec of this interpreter, found first, and the notebooks' env."""
    pytest.importorskip("ipykernel", reason="ipykernel comes with the [test] extra")
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "Python 3", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("KERAS_INPAINT_SMOKE", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    # This checkout, whatever keras_inpaint the environment may hold.
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    return "python3"


@pytest.mark.large
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_smoke_settings(name, python3_kernel, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat comes with the [test] extra")
    nbclient = pytest.importorskip("nbclient", reason="nbclient comes with the [test] extra")
    workdir = tmp_path / "work"
    workdir.mkdir()
    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    executor = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name=python3_kernel,
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        executor.execute()  # raises CellExecutionError, with the traceback, on any cell error
    finally:
        # The kernel has exited; anything still working in the folder was left behind.
        leftovers = processes_working_in(workdir) if Path("/proc").is_dir() else []
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not leftovers, f"{name}.ipynb left processes running: {leftovers}"
    pictures = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert pictures, f"{name}.ipynb showed no picture"
