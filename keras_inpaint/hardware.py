"""Whether the processor a run trains on has bfloat16 arithmetic (`--precision auto`).

Where it has (CPUs with AVX-512 BF16 or AMX, NVIDIA GPUs from Ampere on),
`mixed_bfloat16` trains the 256 and 512 px families 1.42-1.63x faster at the
same validation PSNR (benchmarks/README.md, "bfloat16 per generator"); where
it has not (older CPUs, Colab's T4), bfloat16 is emulated and slower than
float32. `--precision auto` picks by this.

Example:
    >>> bfloat16_hardware(gpus=[("NVIDIA A100-SXM4-40GB", (8, 0))], cpu_flags=set())
    (True, 'GPU NVIDIA A100-SXM4-40GB has bfloat16 arithmetic (compute capability 8.0)')
    >>> bfloat16_hardware(gpus=[], cpu_flags={"avx2", "avx512f"})[0]
    False
"""

from pathlib import Path

# CPU flags (Linux /proc/cpuinfo) of native bfloat16 dot products.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# NVIDIA compute capability from which tensor cores compute in bfloat16 (Ampere).
BFLOAT16_GPU_CAPABILITY = (8, 0)
CPUINFO = Path("/proc/cpuinfo")


def bfloat16_hardware(gpus=None, cpu_flags=None):
    """`(native, reason)`: whether training here computes bfloat16 natively, and why.

    With a GPU, training runs on it, so the first GPU decides; else the CPU's
    flags do. `gpus` (`[(name, (major, minor))]`) and `cpu_flags` (a set)
    default to what TensorFlow and /proc/cpuinfo report.
    """
    gpus = visible_gpus() if gpus is None else gpus
    if gpus:
        name, capability = gpus[0]
        native = tuple(capability or (0, 0)) >= BFLOAT16_GPU_CAPABILITY
        verb = "has" if native else "has no"
        shown = ".".join(map(str, capability)) if capability else "unknown"
        return native, f"GPU {name} {verb} bfloat16 arithmetic (compute capability {shown})"
    flags = cpu_feature_flags() if cpu_flags is None else cpu_flags
    found = [flag for flag in BFLOAT16_CPU_FLAGS if flag in flags]
    if found:
        return True, f"the CPU has bfloat16 arithmetic ({', '.join(found)})"
    return False, f"the CPU has no bfloat16 arithmetic (none of {', '.join(BFLOAT16_CPU_FLAGS)})"


def visible_gpus():
    """`[(name, (major, minor) or None)]` of the GPUs TensorFlow sees."""
    import tensorflow as tf

    found = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        found.append((details.get("device_name", device.name), details.get("compute_capability")))
    return found


def cpu_feature_flags(cpuinfo=CPUINFO):
    """The CPU's feature flags from Linux's /proc/cpuinfo; empty where there is none."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()
