"""Run every benchmark script, then write `benchmarks/RESULTS.md`: machine, tables, targets.

Each script in `SCRIPTS` runs in its own Python process (its own session, so
a timeout ends its child processes too) with the same setting (`--tiny`,
`--quick` or the full run) and prints one JSON object; a script that is
missing, fails, times out or prints no JSON is recorded as an error in the
results instead of stopping the run. The combined table uses figures of
several scripts: the masks' cost per batch of each zoo model (masks.py) over
that model's train step (models.py).

    python benchmarks/run_all.py --quick                 # short: fewer runs, models and sizes
    python benchmarks/run_all.py                         # the full run (about 80 minutes)
    python benchmarks/run_all.py --tiny --output /tmp/RESULTS.md --json-dir /tmp/raw

Time limits are proportional: a script may run `TIMEOUT_MARGIN` (3) times
its seconds on an idle 2-core machine in that setting (`IDLE_SECONDS`),
times the machine's load factor, `max(1, load average over the last minute
/ logical cores)` read just before it starts, and at least
`TIMEOUT_FLOOR_S` (60 s). A busy machine (load 8 on 2 cores: factor 4)
thus gives each script four times longer; a script missing from
`IDLE_SECONDS` gets `DEFAULT_IDLE_SECONDS`. Each script's seconds, time
limit, load average before it and (with `--jobs 1`) CPU seconds of its
processes are written to RESULTS.md and `run_all_seconds.json`; the CPU
seconds hold on a busy machine, where the wall-clock seconds do not.

Prints the markdown to stdout, then one JSON object (`{"benchmark":
"run_all", "setting", "output", "seconds", "cpu_seconds", "load_average",
"targets", "errors"}`) as the last line.
"""

import argparse
import datetime
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent

# Run order: the cheap, independent ones first.
SCRIPTS = (
    "cli_startup",
    "masks",
    "cam_cost",
    "depthwise_cost",
    "export_latency",
    "preset_latency",
    "input_pipeline",
    "models",
    "generator_once",
    "precision_cost",
    "determinism_cost",
    "serving_overhead",
    "serving_load",
)
# Written next to the scripts' JSON objects by --json-dir, read back by --from-json:
# per script its seconds, time limit, the load average before it and when it started.
SECONDS_FILE = "run_all_seconds.json"

# Seconds of each script on an idle 2-core machine, per setting (tiny, quick, full): the
# time limits are proportional to them (see the module docstring). Tiny from the test
# fixture's runs; full from the runs in benchmarks/RESULTS.md (2026-12-03), rounded up;
# quick from the CPU seconds of `--quick` on the idle machine (2026-12-03), rounded up.
IDLE_SECONDS = {
    "cli_startup": (2, 20, 70),
    "masks": (20, 15, 210),
    "cam_cost": (8, 15, 60),
    "depthwise_cost": (10, 25, 200),
    "export_latency": (15, 15, 400),
    "preset_latency": (10, 15, 60),
    "input_pipeline": (20, 30, 510),
    "models": (15, 32, 800),
    "generator_once": (15, 25, 180),
    "precision_cost": (15, 50, 1500),
    "determinism_cost": (35, 45, 900),
    "serving_overhead": (20, 35, 120),
    "serving_load": (20, 40, 150),
}
DEFAULT_IDLE_SECONDS = (30, 60, 600)
TIMEOUT_MARGIN = 3
TIMEOUT_FLOOR_S = 60

MASK_TARGET = 0.05
EFFICIENCY_TARGET = 0.7
CAM_TARGET = 0.5
PIPELINE_TARGET = 3.0
EXPORT_TARGET = 1.1
PRESET_TARGET_MS = 2000.0
HELP_TARGET_S = 1.0
ZOO_TARGET_S = 2.0
DETERMINISM_TARGET = 0.15
SERVING_P99_TARGET = 10.0
SERVING_RSS_TARGET = 1.10
REST_TARGETS = {"json": 3.0, "png": 1.3}
REST_SIZES = (256, 512)
# Each random mask kind's masks per second against its OpenCV reference, at these sizes.
MASK_REFERENCE_TARGET = 1.0
MASK_REFERENCE_SIZES = (256, 512)


def load_factor(load=None, cores=None):
    """`max(1, load average over the last minute / logical cores)`: 1 on an idle machine."""
    load = os.getloadavg()[0] if load is None else load
    cores = cores or os.cpu_count() or 1
    return max(1.0, load / cores)


def idle_seconds(name, setting):
    """A script's seconds on an idle 2-core machine in one setting (`IDLE_SECONDS`)."""
    return IDLE_SECONDS.get(name, DEFAULT_IDLE_SECONDS)[("tiny", "quick", "full").index(setting)]


def timeout_s(name, setting, factor=1.0):
    """A script's time limit: margin x its idle seconds x the load factor, at least the floor."""
    return max(TIMEOUT_FLOOR_S, math.ceil(TIMEOUT_MARGIN * idle_seconds(name, setting) * factor))


def script_command(name, setting):
    """The command line of one script in one setting."""
    flags = [] if setting == "full" else [f"--{setting}"]
    return [sys.executable, str(BENCHMARKS / f"{name}.py"), *flags]


def _run_in_session(command, timeout):
    """`(exit status, stdout, stderr)`; on timeout the whole process group is killed."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return process.returncode, stdout, stderr


def run_script(name, setting, timeout):
    """`(result dict, seconds)`; the dict has `"error"` when the script did not give its JSON."""
    path = BENCHMARKS / f"{name}.py"
    if not path.exists():
        return {"benchmark": name, "error": f"missing: {path.relative_to(ROOT)}"}, 0.0
    start = time.perf_counter()
    try:
        returncode, stdout, stderr = _run_in_session(script_command(name, setting), timeout)
    except subprocess.TimeoutExpired:
        return {"benchmark": name, "error": f"timed out after {timeout} s"}, timeout
    seconds = time.perf_counter() - start
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
        if not isinstance(result, dict):
            raise ValueError("the last line is not a JSON object")
    except (IndexError, ValueError):
        tail = (stderr or stdout).strip().splitlines()[-3:]
        reason = f"exit status {returncode}, no JSON on stdout: " + " | ".join(tail)
        return {"benchmark": name, "error": reason[-600:]}, seconds
    return result, seconds


def machine():
    """The machine and library versions, without importing TensorFlow."""
    cpu = platform.processor() or platform.machine()
    memory = None
    try:
        text = Path("/proc/cpuinfo").read_text()
        cpu = next(
            line.split(":", 1)[1].strip() for line in text.splitlines() if "model name" in line
        )
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        memory = round(
            int(next(line for line in meminfo if "MemTotal" in line).split()[1]) / 2**20, 1
        )
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in ("tensorflow", "keras", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        **versions,
    }


def _recipe(name):
    return json.loads((ROOT / "models" / f"{name}.json").read_text())


def _mask_kind(recipe):
    spec = json.loads((ROOT / "data_pipelines" / f"{recipe['data']}.json").read_text())
    return spec["masks"]["kind"]


def _fmt(value, digits=3):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _ok(result):
    return isinstance(result, dict) and "error" not in result


def mask_costs(masks, models):
    """Per zoo model: its masks' cost per batch over its train step (the <= 5% target)."""
    if not (_ok(masks) and _ok(models)):
        return []
    by_kind = {(entry["kind"], entry["size"]): entry for entry in masks.get("results", [])}
    rows = []
    for entry in models.get("results", []):
        if "train_step" not in entry:
            continue
        recipe = _recipe(entry["recipe"])
        kind, size = _mask_kind(recipe), entry["image_size"]
        batch = recipe["training"]["batch_size"]
        train_per_image = entry["train_step"]["seconds_per_image"]
        row = {"model": entry["model"], "kind": kind, "size": size, "batch": batch}
        if kind == "center_box":
            # A constant box (no random draw): not timed by masks.py, a broadcast per batch.
            row.update(note="constant box, not timed", ratio=0.0)
        else:
            # The figure at the model's size, or else at the next larger size (an upper bound).
            measured = [key for key in by_kind if key[0] == kind and key[1] >= size]
            if not measured:
                row.update(note=f"masks.py has no {kind} figure at >= {size}", ratio=None)
            else:
                source = by_kind[min(measured, key=lambda key: key[1])]
                per_mask = source["ours_seconds_per_mask"]
                row.update(
                    mask_size=source["size"],
                    mask_s_per_batch=per_mask * batch,
                    train_s_per_batch=train_per_image * batch,
                    ratio=per_mask / train_per_image,
                )
        rows.append(row)
    return rows


def targets(results, costs):
    """Rows `(target, measured, verdict)` for the performance targets.

    `verdict` is True (met), False (not met) or None (its script gave no figure).
    """
    batch = results.get("models", {}).get("throughput_batch", "N")
    checks = [
        (
            f"masks per batch <= {MASK_TARGET:.0%} of the train step, every zoo model",
            _mask_target(costs),
        ),
        (
            f"forward GFLOP/s >= {EFFICIENCY_TARGET} x matmul GFLOP/s at batch {batch}, "
            "every generator (best of plain / XLA)",
            _efficiency_target(results.get("models")),
        ),
        (
            f"each random mask kind >= {MASK_REFERENCE_TARGET:g} x its OpenCV reference's "
            f"masks per second, at {' and '.join(map(str, MASK_REFERENCE_SIZES))} px",
            _mask_reference_target(results.get("masks")),
        ),
        (
            f"PEPSI's CAM <= {CAM_TARGET} x the rest of the forward",
            _cam_target(results.get("cam_cost")),
        ),
        (
            f"input pipeline >= {PIPELINE_TARGET:g} x the fastest model's train step",
            _pipeline_target(results.get("input_pipeline")),
        ),
        (
            f"exported serving_default <= {EXPORT_TARGET} x the in-process call",
            _export_target(results.get("export_latency")),
        ),
        (
            f"default preset inpaints 512x512 in < {PRESET_TARGET_MS / 1000:g} s after loading",
            _preset_target(results.get("preset_latency")),
        ),
        (
            f"`keras-inpaint --help` < {HELP_TARGET_S:g} s in a fresh process",
            _startup_target(results.get("cli_startup"), "help_s", HELP_TARGET_S),
        ),
        (
            f"`keras-inpaint zoo` < {ZOO_TARGET_S:g} s in a fresh process",
            _startup_target(results.get("cli_startup"), "zoo_s", ZOO_TARGET_S),
        ),
        (
            f"`keras-inpaint train --deterministic` costs <= {DETERMINISM_TARGET:.0%} of the "
            "default recipe's training step (else it stays opt-in)",
            _determinism_target(results.get("determinism_cost")),
        ),
        (
            f"serving, 16 clients of mixed sizes: p99 of small requests < "
            f"{SERVING_P99_TARGET:g} x their p50 alone, RSS after within "
            f"{SERVING_RSS_TARGET - 1:.0%} of start, 0 errors but the oversize 413s",
            _serving_target(results.get("serving_load")),
        ),
        (
            f"REST predict request with JSON pixel lists <= {REST_TARGETS['json']:g} x the "
            f"in-process call, at {' and '.join(map(str, REST_SIZES))} px",
            _rest_target(results.get("serving_overhead"), "json"),
        ),
        (
            f"REST predict request with base64 PNG files <= {REST_TARGETS['png']:g} x the "
            f"in-process call, at {' and '.join(map(str, REST_SIZES))} px",
            _rest_target(results.get("serving_overhead"), "png"),
        ),
        (
            "depthwise-separable PEPSI's blocks: best layout with today's outputs >= "
            "the target x matmul GFLOP/s",
            _depthwise_target(results.get("depthwise_cost")),
        ),
    ]
    return [(target, *(outcome or ("not measured", None))) for target, outcome in checks]


# Each returns `(measured, met)`, or None when its figures are missing.


def _mask_target(costs):
    measured = [row for row in costs if row.get("ratio") is not None]
    if not measured:
        return None
    worst = max(measured, key=lambda row: row["ratio"])
    return (
        f"worst {worst['ratio']:.2%} ({worst['model']}, {worst['kind']} {worst['size']})",
        worst["ratio"] <= MASK_TARGET,
    )


def _efficiency_target(models):
    if not _ok(models):
        return None
    efficiencies = sorted(
        (entry["best_efficiency"], entry["model"])
        for entry in models.get("results", [])
        if "best_efficiency" in entry
    )
    if not efficiencies:
        return None
    below = [f"{name} {value:.2f}" for value, name in efficiencies if value < EFFICIENCY_TARGET]
    lowest, lowest_model = efficiencies[0]
    return (
        f"lowest {lowest:.2f} ({lowest_model})" + (f"; below: {', '.join(below)}" if below else ""),
        lowest >= EFFICIENCY_TARGET,
    )


def _cam_target(cam):
    if not (_ok(cam) and "fused" in cam):
        return None
    value = cam["fused"]["cam_over_rest"]
    size = cam["image_size"]
    return f"{value:.2f} (fused, {size}x{size})", value <= CAM_TARGET


def _pipeline_target(pipeline):
    if not (_ok(pipeline) and "fastest_model" in pipeline):
        return None
    fastest = pipeline["fastest_model"]
    return (
        f"{fastest['ratio']:.1f}x ({fastest['model']}, {fastest['slowest_source']})",
        fastest["ratio"] >= PIPELINE_TARGET,
    )


def _export_target(export):
    if not (_ok(export) and export.get("worst_ratio") is not None):
        return None
    value = export["worst_ratio"]
    return f"worst {value:.2f}", value <= EXPORT_TARGET


def _preset_target(preset):
    if not (_ok(preset) and preset.get("ms_at_512") is not None):
        return None
    value = preset["ms_at_512"]
    return f"{value:.0f} ms ({preset['preset']})", value < PRESET_TARGET_MS


def _startup_target(startup, key, target):
    if not (_ok(startup) and startup.get(key) is not None):
        return None
    return f"{startup[key]:.2f} s (median of {startup['runs']})", startup[key] < target


def _determinism_target(determinism):
    if not _ok(determinism):
        return None
    default = [
        entry
        for entry in determinism.get("results", [])
        if entry.get("recipe") == "context_encoder/builtin_64" and "cost" in entry
    ]
    if not default:
        return None
    cost = default[0]["cost"]
    return f"{cost:+.1%} (context_encoder/builtin_64)", cost <= DETERMINISM_TARGET


def _serving_target(serving):
    if not _ok(serving) or serving.get("small_p99_load_vs_p50_alone") is None:
        return None
    ratio, memory = serving["small_p99_load_vs_p50_alone"], serving["rss_after_vs_start"]
    return (
        f"p99 {ratio:g} x p50 alone, RSS after {memory:g} x start, {serving['errors']} errors",
        ratio < SERVING_P99_TARGET and memory <= SERVING_RSS_TARGET and serving["errors"] == 0,
    )


def _mask_reference_target(masks):
    if not _ok(masks):
        return None
    rows = [row for row in masks.get("results", []) if row.get("size") in MASK_REFERENCE_SIZES]
    if not rows:
        return None
    short = [row for row in rows if row["ratio"] < MASK_REFERENCE_TARGET]
    worst = min(rows, key=lambda row: row["ratio"])
    measured = (
        f"{len(rows) - len(short)} of {len(rows)} met; worst {worst['ratio']:.2f} "
        f"({worst['kind']} {worst['size']})"
    )
    return measured, not short


def _rest_target(overhead, kind):
    if not _ok(overhead):
        return None
    rows = [
        row
        for row in overhead.get("results", [])
        if row.get("kind") == kind and row.get("size") in REST_SIZES
    ]
    if not rows:
        return None
    measured = ", ".join(f"{row['ratio']:.2f} at {row['size']}" for row in rows)
    return measured, all(row["ratio"] <= REST_TARGETS[kind] for row in rows)


def _depthwise_target(depthwise):
    if not (_ok(depthwise) and depthwise.get("best_ratio") is not None):
        return None
    ratio, target = depthwise["best_ratio"], depthwise["target"]
    return f"{ratio:.2f} ({depthwise['best_layout']}; target {target:g})", ratio >= target


def _verdict(value):
    return "met" if value else "not measured" if value is None else "**not met**"


def models_table(models):
    rows = []
    for entry in models.get("results", []):
        if "error" in entry:
            rows.append([entry["model"], entry["recipe"], f"error: {entry['error'][:120]}"])
            continue
        plain, xla = entry["forward_plain"], entry["forward_xla"]
        xla_ok = isinstance(xla, dict)
        train = entry["train_step"]
        rows.append(
            [
                entry["model"],
                f"`{entry['recipe']}`",
                entry["image_size"],
                f"{entry['params']:,}",
                f"{entry['gflops_per_image']:.2f} / {entry['gflops_profiler']:.2f}",
                f"{_fmt(plain['batch1_latency_ms'])} / "
                + (_fmt(xla["batch1_latency_ms"]) if xla_ok else "n/a"),
                f"{plain['throughput_images_per_s']:.3g} / "
                + (f"{xla['throughput_images_per_s']:.3g}" if xla_ok else "n/a"),
                f"{plain['efficiency']:.2f} / " + (f"{xla['efficiency']:.2f}" if xla_ok else "n/a"),
                entry["matmul_gflops_per_s"],
                f"{train['seconds_per_batch']:.3g} s (batch {train['batch']}; "
                f"recipe {train['recipe_batch']})",
                train["seconds_per_image"],
            ]
        )
    header = [
        "model",
        "recipe",
        "size",
        "G params",
        "GFLOPs/image counted / profiler",
        "batch-1 ms plain / XLA",
        f"batch-{models.get('throughput_batch')} img/s plain / XLA",
        "efficiency plain / XLA",
        "matmul GFLOP/s",
        "train step (G + D)",
        "train s/image",
    ]
    return _table(header, rows)


def pipeline_table(pipeline):
    rows = [
        [
            entry["model"],
            entry["data_spec"],
            entry["source"],
            entry["image_size"],
            entry["batch"],
            entry["images_per_s"],
            entry.get("train_step_images_per_s"),
            entry.get("ratio"),
        ]
        for entry in pipeline.get("pipelines", [])
    ]
    header = ["model", "data spec", "source", "size", "batch", "pipeline img/s"]
    return _table(header + ["train step img/s (same process)", "ratio"], rows)


def cost_table(costs):
    rows = [
        [
            row["model"],
            row["kind"],
            row["size"],
            row["batch"],
            row.get("mask_s_per_batch"),
            row.get("train_s_per_batch"),
            "-" if row.get("ratio") is None else f"{row['ratio']:.2%}",
            row.get("note", f"masks timed at {row.get('mask_size')}"),
        ]
        for row in costs
    ]
    header = ["model", "mask kind", "size", "recipe batch", "masks s/batch"]
    return _table(header + ["train step s/batch", "masks / step", "note"], rows)


def export_table(export):
    rows = [
        [
            entry["model"],
            entry.get("image_size"),
            entry.get("batch"),
            entry.get("exported_ms"),
            entry.get("in_process_ms"),
            entry.get("ratio"),
            entry.get("in_process_xla_ms"),
            entry.get("error", ""),
        ]
        for entry in export.get("results", [])
    ]
    header = ["model", "size", "batch", "exported ms", "in-process ms", "ratio"]
    return _table(header + ["in-process XLA ms", "error"], rows)


def cam_table(cam):
    rows = [
        [
            name,
            cam[name]["forward_with_cam_s"],
            cam[name]["forward_without_cam_s"],
            cam[name]["cam_only_s"],
            cam[name]["cam_over_rest"],
            cam[name]["cam_only_over_rest"],
        ]
        for name in ("patches", "fused")
        if name in cam
    ]
    header = ["implementation", "with CAM s", "without CAM s", "CAM alone s"]
    return _table(header + ["(with - without) / without", "CAM alone / without"], rows)


def masks_table(masks):
    rows = [
        [
            entry.get("kind"),
            entry.get("size"),
            entry.get("ours_masks_per_s"),
            entry.get("reference_masks_per_s"),
            entry.get("ratio"),
            (entry.get("ours_hole_ratio") or {}).get("mean"),
            (entry.get("reference_hole_ratio") or {}).get("mean"),
        ]
        for entry in masks.get("results", [])
    ]
    header = ["kind", "size", "ours masks/s", "OpenCV reference masks/s", "ratio"]
    return _table(header + ["ours hole ratio (mean)", "reference hole ratio (mean)"], rows)


def preset_table(preset):
    rows = [
        [preset["preset"], f"{row['size']}x{row['size']}", row["median_ms"], row["min_ms"]]
        for row in preset.get("results", [])
    ]
    return _table(["preset", "size", "median ms", "min ms"], rows)


def cli_table(startup):
    rows = [
        [f"`{row['command']}`", row["median_s"], row["min_s"], row["max_s"], row["target_s"]]
        for row in startup.get("results", [])
    ]
    table = _table(["command", "median s", "min s", "max s", "target s"], rows)
    runs, entry = startup.get("runs"), startup.get("entry_point")
    return f"Fresh processes, {runs} runs each; entry point `{entry}`.\n\n{table}"


def determinism_table(determinism):
    rows = [
        [
            f"`{entry['recipe']}`",
            entry["source"],
            entry.get("batch"),
            entry.get("step_s_without"),
            entry.get("step_s_with"),
            "-" if entry.get("cost") is None else f"{entry['cost']:+.1%}",
            entry.get("pipeline_s_without"),
            entry.get("pipeline_s_with"),
            entry.get("error")
            or f"{entry['distinct_weights_without']} / {entry['distinct_weights_with']}",
        ]
        for entry in determinism.get("results", [])
    ]
    header = ["recipe", "data", "batch", "step s without", "step s with", "cost"]
    header += ["pipeline s/batch without", "pipeline s/batch with", "distinct weights"]
    steps, rounds = determinism.get("steps"), determinism.get("rounds")
    return (
        f"Median of {steps} steps a process; {rounds} round(s) of fresh processes without and "
        "with `enable_determinism()` (op determinism, one inter-op thread), alternating; "
        "distinct weights: different results among each setting's processes (without / "
        f"with).\n\n{_table(header, rows)}"
    )


def serving_table(serving):
    keys = (
        "clients",
        "seconds",
        "requests",
        "statuses",
        "errors",
        "small_alone_p50_ms",
        "small_load_p50_ms",
        "small_load_p99_ms",
        "rss_start_mb",
        "rss_peak_mb",
        "rss_after_mb",
        "load_average_before",
    )
    row = [serving.get(key) for key in keys]
    statuses = serving.get("statuses") or {}
    row[keys.index("statuses")] = ", ".join(f"{code}: {n}" for code, n in statuses.items())
    return _table(list(keys), [row])


def serving_overhead_table(overhead):
    anchor = ("native_parse_ms", "native_encode_ms", "anchor_ratio")
    rows = [
        [
            row["kind"],
            row["size"],
            row.get("request_bytes"),
            row.get("request_ms"),
            row.get("in_process_ms"),
            row.get("ratio"),
            row.get("target", "-"),
            _verdict(row["ratio"] <= row["target"]) if "target" in row else "-",
            *(row.get(key, "-") for key in anchor),
        ]
        for row in overhead.get("results", [])
    ]
    header = ["kind", "size", "request bytes", "request ms", "in-process ms", "ratio"]
    header += ["target", "verdict", "C++ parse ms", "native encode ms", "anchor ratio"]
    loads = (overhead.get("load_average_before"), overhead.get("load_average_after"))
    return (
        f"One client, {overhead.get('runs')} alternating runs a case; {overhead.get('server')}; "
        f"load average {_fmt(loads[0])} before, {_fmt(loads[1])} after. The anchor (JSON "
        "rows): the model call plus a C++ parse of the same body (simdjson) and a native "
        "write of the answer (orjson), what a C++ server such as TF Serving would add at "
        "least.\n\n" + _table(header, rows) + _stages_table(overhead.get("results", []))
    )


def _stages_table(results):
    """Where each REST request's milliseconds went, from the server's `Server-Timing` stages."""
    stages = ("http-parse", "parse", "model", "encode")
    rows = [
        [row["kind"], row["size"], row.get("request_ms"), row.get("http_ms")]
        + [row.get("handoff_ms"), *(row["stages_ms"].get(stage, "-") for stage in stages)]
        for row in results
        if row.get("stages_ms")
    ]
    if not rows:
        return ""
    header = ["kind", "size", "request ms", "HTTP ms", "handoff ms", "HTTP-process parse ms"]
    header += ["worker parse ms", "model ms", "encode ms"]
    return (
        "\n\nWhere a REST request's time went (medians, ms; `Server-Timing`): HTTP = the "
        "request minus the server's `total` (reading the body, writing the answer, loopback); "
        "handoff = `total` minus its stages (request to the worker, answer back).\n\n"
        + _table(header, rows)
    )


def precision_table(precision):
    keys = ("float32_s", "mixed_bfloat16_s", "xla_s", "bfloat16_speedup", "xla_speedup")
    keys += ("masks_step_s", "masks_pipeline_s", "masks_step_over_pipeline")
    rows = [
        [row["model"], row.get("image_size"), row.get("batch"), *(row.get(key) for key in keys)]
        + [row.get("error", "")[:120]]
        for row in precision.get("results", [])
    ]
    header = ["model", "size", "batch", "float32 s", "mixed_bfloat16 s", "XLA s"]
    header += ["bfloat16 speed-up", "XLA speed-up", "masks in step s", "masks from pipeline s"]
    return _table(header + ["in step / pipeline", "error"], rows)


def generator_once_table(generator_once):
    rows = [
        [row["model"], f"`{row['recipe']}`", row.get("image_size"), row.get("batch")]
        + [row.get("two_pass_s"), row.get("one_pass_s"), row.get("speedup")]
        for row in generator_once.get("results", [])
    ]
    header = ["model", "recipe", "size", "batch", "two passes s", "one pass s", "speed-up"]
    return _table(header, rows)


def depthwise_table(depthwise):
    rows = [
        [
            row["layout"],
            row.get("seconds"),
            row.get("gflops"),
            row.get("matmul_gflops"),
            row.get("ratio_to_matmul"),
            row.get("same_outputs"),
        ]
        for row in depthwise.get("results", [])
        if row.get("block") in ("all", None)
    ]
    header = ["layout", "seconds (all blocks)", "GFLOP/s", "matmul GFLOP/s", "ratio to matmul"]
    roofline = depthwise.get("roofline") or {}
    caps = (roofline.get("cap_ratio_separate"), roofline.get("cap_ratio_fused"))
    return (
        f"{depthwise.get('image_size')}x{depthwise.get('image_size')}, batch "
        f"{depthwise.get('batch')}, {depthwise.get('runs')} runs; best layout with today's "
        f"outputs: {depthwise.get('best_layout')} ({_fmt(depthwise.get('best_ratio'))}, target "
        f"{_fmt(depthwise.get('target'))}); roofline cap of the ratio: {_fmt(caps[0])} as "
        f"separate kernels, {_fmt(caps[1])} fused.\n\n" + _table(header + ["same outputs"], rows)
    )


TABLES = {
    "cli_startup": ("Command-line start-up (cli_startup.py)", cli_table),
    "masks": ("Masks (masks.py)", masks_table),
    "models": ("Models (models.py)", models_table),
    "input_pipeline": ("Input pipeline (input_pipeline.py)", pipeline_table),
    "cam_cost": ("PEPSI's contextual attention (cam_cost.py)", cam_table),
    "export_latency": ("Export (export_latency.py)", export_table),
    "preset_latency": ("Inpainting with the default preset (preset_latency.py)", preset_table),
    "determinism_cost": ("Op determinism (determinism_cost.py)", determinism_table),
    "serving_load": ("Serving under load (serving_load.py)", serving_table),
    "serving_overhead": (
        "REST request vs in-process call (serving_overhead.py)",
        serving_overhead_table,
    ),
    "precision_cost": (
        "Train step in float32, mixed_bfloat16 and XLA (precision_cost.py)",
        precision_table,
    ),
    "generator_once": (
        "GAN step, generator run once vs twice (generator_once.py)",
        generator_once_table,
    ),
    "depthwise_cost": ("Depthwise-separable PEPSI's layouts (depthwise_cost.py)", depthwise_table),
}


def _record(value):
    """A script's run record; old `run_all_seconds.json` files hold the seconds alone."""
    return value if isinstance(value, dict) else {"seconds": value}


def _ran(record):
    text = f"Ran in {record.get('seconds', 0):.0f} s"
    if record.get("started"):
        text += f" from {record['started']}"
    if record.get("cpu_seconds") is not None:
        text += f", {record['cpu_seconds']:.0f} CPU s"
    if record.get("timeout_s") is not None:
        load = _fmt(record.get("load_average"))
        text += f" (limit {record['timeout_s']} s, load average {load} before)"
    return text + "."


def _header(runs, setting, command, started, cores):
    total = sum(_record(value).get("seconds", 0) for value in runs.values())
    cpu = [_record(value).get("cpu_seconds") for value in runs.values()]
    loads = [
        _record(value)["load_average"]
        for value in runs.values()
        if "load_average" in _record(value)
    ]
    text = (
        f"Written by `{command}` on {started} (setting `{setting}`; {total:.0f} s in all"
        + (f", {sum(cpu):.0f} CPU s" if cpu and None not in cpu else "")
        + "). Do not edit by hand: run the command again."
    )
    if loads:
        shared = "shared with other work" if max(loads) > (cores or 1) else "not loaded by others"
        text += (
            f"\nLoad average before the scripts: {min(loads):g} to {max(loads):g} on {cores} "
            f"logical cores (the machine was {shared})."
        )
    return text


def render(results, runs, setting, machine_info, command, started):
    """`(markdown, target rows)`; `runs` holds each script's run record (or its seconds)."""
    costs = mask_costs(results.get("masks"), results.get("models"))
    target_rows = targets(results, costs)
    lines = [
        "# Benchmark results",
        "",
        _header(runs, setting, command, started, machine_info.get("logical_cores")),
        "Figures are ratios against a reference measured in the same process, interleaved with",
        "the runs they are compared with; benchmarks/README.md says what each one measures.",
        "",
        "## Machine",
        "",
        _table(["item", "value"], [[key, value] for key, value in machine_info.items()]),
        "",
        "## Targets",
        "",
        _table(
            ["target", "measured", "verdict"],
            [(name, value, _verdict(met)) for name, value, met in target_rows],
        ),
        "",
        'A target not met is discussed under "Targets and findings" in benchmarks/README.md.',
        "",
        "## Masks per batch over each model's train step (masks.py x models.py)",
        "",
        cost_table(costs) if costs else "Not available: masks.py or models.py has no figures.",
    ]
    for name in SCRIPTS:
        title, table = TABLES[name]
        result = results.get(name, {})
        lines += ["", f"## {title}", "", _ran(_record(runs.get(name, 0.0)))]
        if _ok(result):
            try:
                lines += ["", table(result)]
            except (KeyError, TypeError, ValueError) as error:  # a script changed its keys
                lines += ["", f"**Error**: cannot tabulate the JSON object: {error!r}"]
        else:
            lines += ["", f"**Error**: {result.get('error', 'not run')}"]
    return "\n".join(lines) + "\n", target_rows


def _children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_one(name, setting, alone=True):
    """`(name, result, record)`: one script run under its proportional time limit.

    The record has the script's CPU seconds (its processes', user + system) when it
    ran `alone`, not alongside another script.
    """
    load = round(os.getloadavg()[0], 2)
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    limit = timeout_s(name, setting, load_factor(load))
    print(f"run_all: {name} (limit {limit} s, load {load}) ...", file=sys.stderr, flush=True)
    cpu_before = _children_cpu_s()
    result, seconds = run_script(name, setting, limit)
    status = f"error: {result['error'][:200]}" if "error" in result else "ok"
    print(f"run_all: {name} {status} ({seconds:.0f} s)", file=sys.stderr, flush=True)
    record = {"seconds": round(seconds, 1), "timeout_s": limit, "load_average": load}
    record["started"] = started
    if alone:
        record["cpu_seconds"] = round(_children_cpu_s() - cpu_before, 1)
    return name, result, record


def _from_json(folder, names):
    folder = Path(folder)
    timing = folder / SECONDS_FILE
    recorded = json.loads(timing.read_text()) if timing.exists() else {}
    return [
        (name, json.loads((folder / f"{name}.json").read_text()), recorded.get(name, 0.0))
        for name in names
        if (folder / f"{name}.json").exists()
    ]


def _save_json(folder, results, runs):
    """Each script's JSON object and run record into `folder`, replacing only those scripts'."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    from keras_inpaint.output_files import write_text  # atomic: a killed run leaves no half file

    for name, result in results.items():
        write_text(folder / f"{name}.json", json.dumps(result, indent=1))
    timing = folder / SECONDS_FILE
    recorded = json.loads(timing.read_text()) if timing.exists() else {}
    write_text(timing, json.dumps({**recorded, **runs}, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--tiny", action="store_true", help="seconds-long runs (tests)")
    group.add_argument("--quick", action="store_true", help="fewer runs, models and sizes")
    parser.add_argument("--output", default=str(BENCHMARKS / "RESULTS.md"))
    parser.add_argument(
        "--json-dir",
        help="also save each script's JSON object here as it ends (with --only, replacing "
        "those scripts')",
    )
    parser.add_argument("--only", default="", help="comma-separated scripts (default: all)")
    parser.add_argument(
        "--from-json",
        help="write the tables from the JSON objects saved by --json-dir; run nothing",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="scripts at once; above 1 the timings mean nothing"
    )
    args = parser.parse_args()
    setting = "tiny" if args.tiny else "quick" if args.quick else "full"
    unknown = set(filter(None, args.only.split(","))) - set(SCRIPTS)
    if unknown:
        parser.error(f"--only: unknown scripts {sorted(unknown)}; choose among {list(SCRIPTS)}")
    names = [name for name in SCRIPTS if not args.only or name in args.only.split(",")]
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = round(os.getloadavg()[0], 2)
    if args.from_json:
        outcomes = _from_json(args.from_json, names)
    else:
        # Several at once: the longest first, so that the last to finish starts early.
        if args.jobs > 1:
            names = sorted(names, key=lambda name: -idle_seconds(name, setting))
        saving = threading.Lock()

        def run_and_keep(name):
            outcome = _run_one(name, setting, args.jobs == 1)
            if args.json_dir:  # as each script ends: a stopped run keeps what it measured
                with saving:
                    _save_json(args.json_dir, {name: outcome[1]}, {name: outcome[2]})
            return outcome

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            outcomes = list(pool.map(run_and_keep, names))
    results = {name: result for name, result, _ in outcomes}
    runs = {name: record for name, _, record in outcomes}
    flag = "" if setting == "full" else f" --{setting}"
    markdown, target_rows = render(
        results, runs, setting, machine(), f"python benchmarks/run_all.py{flag}", started
    )
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(markdown)
    print(markdown)
    summary = {
        "benchmark": "run_all",
        "setting": setting,
        "output": str(output),
        "seconds": round(sum(_record(value).get("seconds", 0) for value in runs.values()), 1),
        "cpu_seconds": round(
            sum(_record(value).get("cpu_seconds", 0) for value in runs.values()), 1
        ),
        "load_average": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
        "targets": [
            {"target": name, "measured": value, "verdict": _verdict(met).strip("*")}
            for name, value, met in target_rows
        ],
        "errors": {name: result["error"] for name, result in results.items() if "error" in result},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
