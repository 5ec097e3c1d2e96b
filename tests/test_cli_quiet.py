"""No TensorFlow start-up chatter on the command line's stderr; real errors still show.

Commands run for real in their own processes on tiny settings (a 2-step
training run of a shrunk recipe, the server answering one status request,
errors), as a user would start them: without `TF_CPP_MIN_LOG_LEVEL` in the
environment. Every other verb (export, inpaint, evaluate, preset, zoo, and
GLCIC's and PEPSI's training, where TensorFlow logs at the first step) is
checked the same way by tests/test_docs.py, which runs the documented
commands.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from test_case import TENSORFLOW_NOISE

from keras_inpaint.tf_log_filter import forward, is_noise
from keras_inpaint.training import load_recipe

# One of each line TensorFlow 2.21 printed here (the PEPSI and GLCIC ones at their first
# train step), and the known lines in the forms that must still show.
NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796182715.319559    2086 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors from "
    "different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796182715.319844    2086 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "I0000 00:00:1796182715.366646    2086 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    "TensorFlow with the appropriate compiler flags.",
    "E0000 00:00:1796182776.987389    2506 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "E0000 00:00:1796182868.049414    2914 util.cc:131] oneDNN supports DT_INT64 only on "
    "platforms with AVX-512. Falling back to the default Eigen-based implementation if present.",
    "E0000 00:00:1796213113.102226   15544 util.cc:131] oneDNN supports DT_UINT8 only on "
    "platforms with AVX-512. Falling back to the default Eigen-based implementation if present.",
    "E0000 00:00:1796182884.323740    2998 meta_optimizer.cc:967] remapper failed: "
    "INVALID_ARGUMENT: Mutation::Apply error: fanout 'StatefulPartitionedCall/gradient_tape/"
    "red_discriminator_5/block4_lrelu_1/LeakyRelu/LeakyReluGrad' exist for missing node "
    "'StatefulPartitionedCall/red_discriminator_5/block4_conv_sn_1/block4_conv_1/BiasAdd'.",
]
NOT_NOISE = [
    "E0000 00:00:1796182776.987389    2506 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: CUDA_ERROR_NO_DEVICE (100)",
    "E0000 00:00:1796182884.323740    2998 meta_optimizer.cc:967] remapper failed: "
    "INVALID_ARGUMENT: Mutation::Apply error: something else",
    "W0000 00:00:1796182884.323740    2998 op_kernel.cc:1857] OP_REQUIRES failed at conv_ops.cc",
    "keras-inpaint train: error: recipe 'x' is not found",
    "Traceback (most recent call last):",
]


@pytest.mark.parametrize("line", NOISE)
def test_known_lines_are_noise(line):
    assert is_noise(line.encode() + b"\n")


@pytest.mark.parametrize("line", NOT_NOISE)
def test_other_lines_are_not(line):
    assert not is_noise(line.encode() + b"\n")


def test_forward_drops_the_noise_and_keeps_the_rest_in_order():
    source_read, source_write = os.pipe()
    sink_read, sink_write = os.pipe()
    text = (NOISE[0] + "\nkept 1\n" + NOISE[2] + "\n50%\r100%\r\nkept 2\n" + NOISE[1]).encode()
    for start in range(0, len(text), 7):  # lines cut anywhere between the writes
        os.write(source_write, text[start : start + 7])
    os.close(source_write)
    forward(source_read, sink_write)
    os.close(sink_write)
    with os.fdopen(sink_read, "rb") as sink:
        assert sink.read() == b"kept 1\n50%\r100%\r\nkept 2\n"
    os.close(source_read)


def _environment():
    return {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}


def cli(*args, cwd, check=True):
    """Run `keras-inpaint ARGS` in a fresh process; its stderr must hold no TensorFlow noise."""
    completed = subprocess.run(
        [sys.executable, "-m", "keras_inpaint.cli", *map(str, args)],
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    noisy = [line for line in completed.stderr.splitlines() if TENSORFLOW_NOISE.search(line)]
    assert not noisy, f"keras-inpaint {args[0]} printed {noisy}"
    return completed


def tiny_recipe(folder, name, networks):
    """`name` shrunk by `networks` ({role: config changes}), for a 2-step run."""
    recipe = load_recipe(name)
    recipe["name"] = f"tests/{name.replace('/', '_')}"
    for role, changes in networks.items():
        recipe[role]["config"].update(changes)
    recipe["training"] = {"batch_size": 2, "epochs": 1, "steps_per_epoch": 2}
    path = folder / f"{name.replace('/', '_')}.json"
    path.write_text(json.dumps(recipe))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished 2-step run of a tiny Context Encoder, with its export, made by `train`."""
    folder = tmp_path_factory.mktemp("quiet")
    recipe = tiny_recipe(
        folder,
        "context_encoder/builtin_64",
        {
            "generator": {
                "encoder_filters": [4, 4, 4, 4],
                "bottleneck": 8,
                "decoder_filters": [4, 4, 4, 4],
            },
            "discriminator": {"filters": 4},
        },
    )
    completed = cli("train", "--recipe", recipe, "--out", folder / "run", cwd=folder)
    assert "hole PSNR" in completed.stdout
    (export,) = (folder / "run" / "export").glob("*/1")
    return folder, folder / "run", export


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.large
def test_serve_is_quiet(run):
    folder, _, export = run
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "keras_inpaint.cli", "serve"]
        + ["--model-dir", str(export.parent), "--port", str(port)],
        cwd=folder,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a terminal starts it: a pytest-xdist worker ignores SIGINT, and a child would too.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    url = f"http://127.0.0.1:{port}/v1/models/{export.parent.name}"
    deadline = time.monotonic() + 300
    try:
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(1)
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=120)
    noisy = [line for line in stderr.splitlines() if TENSORFLOW_NOISE.search(line)]
    assert not noisy, f"keras-inpaint serve printed {noisy}"


@pytest.mark.large
def test_real_errors_still_show(run, tmp_path):
    _, run_dir, _ = run
    args = ["--image", tmp_path / "missing.png", "--mask", tmp_path / "missing.png"]
    failed = cli(
        "inpaint", "--model", run_dir, *args, "--out", tmp_path / "o.png", cwd=tmp_path, check=False
    )
    assert failed.returncode == 2
    assert "keras-inpaint inpaint: error: " in failed.stderr and "missing.png" in failed.stderr
    # A C++ error line that is not known noise comes through, after TensorFlow's start-up.
    code = (
        "import os; from keras_inpaint.tf_log_filter import hide_tensorflow_noise; "
        "hide_tensorflow_noise(); import tensorflow as tf; tf.config.list_physical_devices(); "
        f"os.write(2, {NOT_NOISE[0]!r}.encode() + b'\\n')"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], env=_environment(), capture_output=True, text=True
    )
    assert completed.stderr.splitlines() == [NOT_NOISE[0]]


def _logged(stderr):
    """The known lines of a stderr, without their time stamps and thread ids."""
    return [
        re.sub(r"^[IWE]\d{4} [\d:.]+ +\d+ ", "", line)
        for line in stderr.splitlines()
        if is_noise(line.encode() + b"\n")
    ]


@pytest.mark.large
def test_debug_shows_tensorflow_logs(tmp_path):
    bare = subprocess.run(
        [sys.executable, "-c", "import tensorflow"],
        env=_environment(),
        capture_output=True,
        text=True,
    )
    debug = subprocess.run(
        [sys.executable, "-m", "keras_inpaint.cli", "--debug", "export", str(tmp_path / "none")]
        + ["--base", str(tmp_path)],
        env=_environment(),
        capture_output=True,
        text=True,
    )
    assert "does not exist" in debug.stderr
    # What TensorFlow prints at import, in the same order.
    logged = _logged(bare.stderr)
    assert _logged(debug.stderr)[: len(logged)] == logged
