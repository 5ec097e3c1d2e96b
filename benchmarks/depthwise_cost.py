"""Depthwise-separable PEPSI on a CPU: layouts of its separable blocks, and their roofline.

The depthwise variant of PEPSI (recipe `pepsi/seed_depthwise_celeba_hq_256`,
Sagong et al., https://arxiv.org/abs/1901.03396, with the seed's separable
convs) replaces every conv of the encoder and decoder by a depthwise conv with
bias and a 1x1 conv with bias. For each of these blocks at its real channel
counts and map sizes, this script times, as compiled `tf.function`s in one
process with the calls interleaved (and interleaved with the float32 matmul
of `benchlib.matmul_reference`), these layouts of the same computation:

- `keras`: `DepthwiseConv2D` + `Conv2D` 1x1, the model's own layers (today);
- `keras_xla`: the same, compiled with `jit_compile=True`;
- `depthwise_matmul`: `tf.nn.depthwise_conv2d` + a matmul on the `(B*H*W, C)` view;
- `separable_conv2d`: `tf.nn.separable_conv2d`, the depthwise bias folded into
  the pointwise one (`b_pw + b_dw @ W_pw`, equal up to round-off);
- `grouped_conv2d`: the depthwise conv as a `tf.nn.conv2d` with `groups = C`;
- `batch_folded`: the batch folded into the channels, `(1, H, W, B*C)`, for
  the depthwise conv (input already folded, as a network kept in that layout
  would carry it);
- `nchw`: the depthwise conv in NCHW and the pointwise as a batched matmul
  over `(C, H*W)` (input already in NCHW);
- `full_conv`: one dense conv with the kernel `dw[..., c] * pw[c, o]`: the same
  outputs for many more FLOPs, but matmul-shaped work;
- `mixed_bfloat16`: the keras layers under the `mixed_bfloat16` policy (not
  the same outputs: bfloat16 round-off);
- `depthwise_only`, `pointwise_only`: the two keras layers of today alone.

GFLOP/s count the useful FLOPs of the separable block (`flop_count.py`'s
rules, biases not counted) for every layout except `depthwise_only` and
`pointwise_only`, which count their own layer's. Every layout's output is
compared with the keras one (`max_abs_diff`, on random biases so their
folding is checked too). The script also measures the memory bandwidth the
CPU reaches (numpy copy and add, a TensorFlow add, on arrays far larger than
the last-level cache and on one that fits in it) and computes the roofline:
the arithmetic intensity (FLOP per byte of tensors read and written) of each
depthwise and pointwise conv, and the GFLOP/s the whole set of blocks could
reach at most if each op's time were `max(FLOPs / matmul rate, bytes /
bandwidth)`, for the ops as separate kernels (today) and for an ideal fused
block that reads its input and writes its output once.

    python benchmarks/depthwise_cost.py [--tiny | --quick] [--batch N] [--runs N]
        [--layout NAME ...]

Settings: `--tiny` 32x32 images, filters 4, batch 1, the first two blocks,
1 run, a 256 matmul (seconds, for the tests); `--quick` 256x256, filters 32,
batch 4, 3 runs, a 2048 matmul, four layouts (`QUICK_LAYOUTS`); the full run
256x256, filters 32, batch 16, 5 runs, a 2048 matmul. `--batch` and `--runs`
override them; `--layout` (repeatable) times only the named layouts and
`keras`. Prints one JSON
object: `{"benchmark": "depthwise_cost", "setting", "machine", "recipe",
"image_size", "filters", "batch", "runs", "blocks": [{"block", "input_shape",
"output_shape", "kernel", "stride", "dilation", "flops", "depthwise_flops",
"pointwise_flops", "depthwise_bytes", "pointwise_bytes", "fused_bytes"}],
"results": [{"layout", "block", "seconds", "gflops", "matmul_gflops",
"ratio_to_matmul", "max_abs_diff", "same_outputs"}], "best_layout",
"best_ratio", "target": 0.6, "bandwidth_gb_s", "bandwidth": {"dram": {...},
"cache": {...}}, "roofline": {...}}`. `gflops` is GFLOP/s; block `"all"`
sums the seconds and FLOPs of every block; `max_abs_diff` and
`same_outputs` (within float32 round-off) are absent for the two one-layer
layouts; `best_ratio` is the best `"all"` ratio among the layouts with the
same outputs as today's; `bandwidth_gb_s` is the DRAM bandwidth the roofline
uses, the largest of the large-array figures in `bandwidth`. `roofline` holds
`depthwise_flop_per_byte` and `pointwise_flop_per_byte` (`[min, max]` over
the blocks), `depthwise_cap_gflops` and `pointwise_cap_gflops` (each kind of
op alone), `cap_gflops_separate` (ops as separate kernels) and
`cap_gflops_fused` (ideal fused block), each also with a `_dram` variant
(every op at the DRAM bandwidth, none credited with the cache) and as a
`..._ratio...` to the matmul, `l3_mib` and the bandwidths used.
"""

from benchlib import (  # noqa: E402
    emit,
    interleaved_medians,
    log,
    machine_description,
    matmul_reference,
    parse_setting,
)

RECIPE = "pepsi/seed_depthwise_celeba_hq_256"
TARGET = 0.6
# Today's layout, the two one-layer ones, and the fastest with today's outputs in the full
# run of 2026-12-03.
QUICK_LAYOUTS = ("keras", "depthwise_only", "pointwise_only", "depthwise_matmul")
# `blocks`: how many of the separable blocks to time (None: all 19); `--tiny` times two,
# to stay within seconds.
SETTINGS = {
    "tiny": {
        "size": 32,
        "filters": 4,
        "batch": 1,
        "runs": 1,
        "matmul": 256,
        "stream_mib": 8,
        "blocks": 2,
    },
    "quick": {
        "size": 256,
        "filters": 32,
        "batch": 4,
        "runs": 3,
        "matmul": 2048,
        "stream_mib": 256,
        "layouts": QUICK_LAYOUTS,
    },
    "full": {"size": 256, "filters": 32, "batch": 16, "runs": 5, "matmul": 2048, "stream_mib": 512},
}
# A float32 tensor pair of this many MiB fits in the cache for the cache-bandwidth figure.
CACHE_STREAM_MIB = 4
# Largest difference from the keras layout still counted as float32 round-off, relative
# to the largest output magnitude.
SAME_OUTPUT_TOLERANCE = 1e-5
FLOAT_BYTES = 4
SEPARATE_LAYOUTS = ("depthwise_only", "pointwise_only")
LAYOUTS = (
    "keras",
    "keras_xla",
    "mixed_bfloat16",
    "depthwise_only",
    "pointwise_only",
    "depthwise_matmul",
    "separable_conv2d",
    "grouped_conv2d",
    "full_conv",
    "batch_folded",
    "nchw",
)
BYTES_KEYS = ("depthwise_bytes", "pointwise_bytes", "fused_bytes")


def _add_arguments(parser):
    parser.add_argument("--batch", type=int, help="batch size (default: the setting's)")
    parser.add_argument("--runs", type=int, help="timed runs (default: the setting's)")
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        action="append",
        help="time only this layout (repeatable; `keras`, the reference, is always timed)",
    )


def separable_blocks(size, filters):
    """`[(name, depthwise_layer, pointwise_layer)]` of the depthwise PEPSI generator."""
    import keras

    from keras_inpaint.models.pepsi import PEPSIGenerator
    from keras_inpaint.training.recipes import load_recipe

    config = dict(load_recipe(RECIPE)["generator"]["config"], image_size=size, filters=filters)
    keras.utils.set_random_seed(0)
    generator = PEPSIGenerator(**config)
    blocks = []
    for model in (generator.encoder, generator.decoder):
        for layer in model.layers:
            if isinstance(layer, keras.layers.DepthwiseConv2D):
                name = layer.name.removesuffix("_dw")
                blocks.append((name, layer, model.get_layer(f"{name}_pw")))
    return blocks


def block_weights(depthwise, pointwise, seed):
    """Kernels and random biases of a block (the biases assigned to the layers too)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in (depthwise, pointwise):
        layer.bias.assign(rng.normal(0.0, 0.5, layer.bias.shape).astype("float32"))
    return {
        "dw": depthwise.kernel.numpy(),
        "dw_bias": depthwise.bias.numpy(),
        "pw": pointwise.kernel.numpy()[0, 0],
        "pw_bias": pointwise.bias.numpy(),
        "stride": int(depthwise.strides[0]),
        "dilation": int(depthwise.dilation_rate[0]),
    }


def _pointwise_matmul(y, pw, bias):
    import tensorflow as tf

    shape = tf.shape(y)
    flat = tf.reshape(y, (-1, pw.shape[0]))
    out = tf.linalg.matmul(flat, pw) + bias
    return tf.reshape(out, tf.concat([shape[:-1], [pw.shape[1]]], axis=0))


def _bfloat16_copy(layer, input_shape):
    copy = type(layer).from_config(dict(layer.get_config(), dtype="mixed_bfloat16"))
    copy.build(input_shape)
    copy.set_weights(layer.get_weights())
    return copy


def _keras_layouts(x, depthwise, pointwise):
    """Today's keras layers: together, with XLA, under `mixed_bfloat16`, and each alone."""
    import tensorflow as tf

    def keras_layout(inputs):
        return pointwise(depthwise(inputs, training=False), training=False)

    bf16_depthwise = _bfloat16_copy(depthwise, x.shape)
    bf16_pointwise = _bfloat16_copy(pointwise, x.shape)

    def bf16_layout(inputs):
        return bf16_pointwise(bf16_depthwise(inputs, training=False), training=False)

    intermediate = depthwise(x, training=False)
    identity = (lambda inputs: inputs, lambda output: output)
    return {
        "keras": (keras_layout, *identity),
        "keras_xla": (keras_layout, *identity),
        "mixed_bfloat16": (
            bf16_layout,
            lambda inputs: tf.cast(inputs, tf.bfloat16),
            lambda output: tf.cast(output, tf.float32),
        ),
        "depthwise_only": (lambda inputs: depthwise(inputs, training=False), *identity),
        "pointwise_only": (
            lambda inputs: pointwise(inputs, training=False),
            lambda inputs: intermediate,
            lambda output: output,
        ),
    }


def _nhwc_layouts(weights, channels):
    """`tf.nn` layouts on NHWC tensors: the same outputs as the keras layers."""
    import tensorflow as tf

    stride, dilation = weights["stride"], weights["dilation"]
    strides, dilations = [1, stride, stride, 1], [dilation, dilation]
    dw, dw_bias = tf.constant(weights["dw"]), tf.constant(weights["dw_bias"])
    pw, pw_bias = tf.constant(weights["pw"]), tf.constant(weights["pw_bias"])
    folded_bias = tf.constant(weights["pw_bias"] + weights["dw_bias"] @ weights["pw"])
    grouped_kernel = tf.reshape(dw, (dw.shape[0], dw.shape[1], 1, channels))
    full_kernel = tf.constant(weights["dw"][..., 0, None] * weights["pw"][None, None])

    def depthwise_matmul(inputs):
        y = tf.nn.depthwise_conv2d(inputs, dw, strides, "SAME", dilations=dilations) + dw_bias
        return _pointwise_matmul(y, pw, pw_bias)

    def separable(inputs):
        y = tf.nn.separable_conv2d(inputs, dw, pw[None, None], strides, "SAME", dilations=dilations)
        return y + folded_bias

    def grouped(inputs):
        y = tf.nn.conv2d(inputs, grouped_kernel, strides, "SAME", dilations=dilations) + dw_bias
        return tf.nn.conv2d(y, pw[None, None], 1, "VALID") + pw_bias

    def full_conv(inputs):
        y = tf.nn.conv2d(inputs, full_kernel, strides, "SAME", dilations=dilations)
        return y + folded_bias

    return {
        "depthwise_matmul": depthwise_matmul,
        "separable_conv2d": separable,
        "grouped_conv2d": grouped,
        "full_conv": full_conv,
    }


def _batch_folded_layout(weights, batch, channels, out_hw):
    """The batch folded into the channels, `(1, H, W, B*C)`, with its converters."""
    import tensorflow as tf

    stride, dilation = weights["stride"], weights["dilation"]
    kernel = tf.tile(tf.constant(weights["dw"]), [1, 1, batch, 1])
    dw_bias = tf.tile(tf.constant(weights["dw_bias"]), [batch])
    pw, pw_bias = tf.constant(weights["pw"]), tf.constant(weights["pw_bias"])

    def batch_folded(folded):
        y = tf.nn.depthwise_conv2d(
            folded, kernel, [1, stride, stride, 1], "SAME", dilations=[dilation, dilation]
        )
        y = tf.reshape(y + dw_bias, (-1, batch, channels))
        return tf.linalg.matmul(y, pw) + pw_bias  # (H*W, B, O): still batch-folded

    def fold(inputs):
        return tf.reshape(tf.transpose(inputs, (1, 2, 0, 3)), (1, *inputs.shape[1:3], -1))

    def unfold(output):
        return tf.transpose(tf.reshape(output, (*out_hw, batch, -1)), (2, 0, 1, 3))

    return batch_folded, fold, unfold


def _nchw_layout(weights, batch, channels, out_hw):
    """The depthwise conv in NCHW, the pointwise a batched matmul, with their converters."""
    import tensorflow as tf

    stride, dilation = weights["stride"], weights["dilation"]
    dw, dw_bias = tf.constant(weights["dw"]), tf.constant(weights["dw_bias"])
    pw_transposed = tf.constant(weights["pw"].T)
    pw_bias = tf.constant(weights["pw_bias"])

    def nchw(inputs):
        y = tf.nn.depthwise_conv2d(
            inputs,
            dw,
            [1, 1, stride, stride],
            "SAME",
            dilations=[dilation, dilation],
            data_format="NCHW",
        )
        flat = tf.reshape(y + dw_bias[:, None, None], (batch, channels, -1))
        return tf.linalg.matmul(pw_transposed, flat) + pw_bias[:, None]  # (B, O, H*W)

    def to_nchw(inputs):
        return tf.transpose(inputs, (0, 3, 1, 2))

    def to_nhwc(output):
        return tf.transpose(tf.reshape(output, (batch, -1, *out_hw)), (0, 2, 3, 1))

    return nchw, to_nchw, to_nhwc


def layout_functions(x, depthwise, pointwise, weights):
    """`({layout: (function, input_converter, output_converter)}, output_shape)` of a block.

    The input converter puts the NHWC input in the layout's own form (outside the
    timing); the output converter brings the output back to NHWC for the comparison.
    """
    batch, channels = int(x.shape[0]), int(x.shape[-1])
    output_shape = tuple(int(side) for side in depthwise.compute_output_shape(x.shape))
    out_hw = output_shape[1:3]
    layouts = _keras_layouts(x, depthwise, pointwise)
    for name, function in _nhwc_layouts(weights, channels).items():
        layouts[name] = (function, lambda inputs: inputs, lambda output: output)
    layouts["batch_folded"] = _batch_folded_layout(weights, batch, channels, out_hw)
    layouts["nchw"] = _nchw_layout(weights, batch, channels, out_hw)
    return layouts, output_shape


def block_flops(output_shape, weights):
    """`(depthwise, pointwise)` FLOPs of one block on a batch (2 per multiply-add)."""
    batch, out_h, out_w = (int(side) for side in output_shape[:3])
    kh, kw, channels, _ = weights["dw"].shape
    outputs = weights["pw"].shape[1]
    positions = batch * out_h * out_w
    return 2 * positions * kh * kw * channels, 2 * positions * channels * outputs


def block_bytes(input_shape, output_shape, weights):
    """Bytes read and written by the depthwise conv, the pointwise one and a fused block.

    Each tensor counted once: the least traffic each kernel can have.
    """
    import math

    inputs = math.prod(int(side) for side in input_shape)
    positions = math.prod(int(side) for side in output_shape[:3])
    channels, outputs = weights["pw"].shape
    depthwise = FLOAT_BYTES * (inputs + positions * channels + weights["dw"].size)
    pointwise = FLOAT_BYTES * (positions * (channels + outputs) + weights["pw"].size)
    fused = FLOAT_BYTES * (inputs + positions * outputs + weights["dw"].size + weights["pw"].size)
    return dict(zip(BYTES_KEYS, (depthwise, pointwise, fused), strict=True))


def measure_bandwidth(stream_mib, runs):
    """GB/s of a numpy copy, a numpy add and a TensorFlow add, large and cache-sized."""
    import numpy as np
    import tensorflow as tf

    def case(mib):
        count = mib * 2**20 // FLOAT_BYTES
        left, right = np.ones(count, "float32"), np.full(count, 2.0, "float32")
        out = np.empty_like(left)
        tensor = tf.constant(left)
        tf_add = tf.function(lambda: tensor + 1.0)
        functions = {
            "numpy_copy": lambda: np.copyto(out, left),
            "numpy_add": lambda: np.add(left, right, out=out),
            "tf_add": tf_add,
        }
        traffic = {"numpy_copy": 2, "numpy_add": 3, "tf_add": 2}
        seconds = interleaved_medians(functions, max(runs, 3))
        return {
            name: round(traffic[name] * count * FLOAT_BYTES / seconds[name] / 1e9, 1)
            for name in functions
        }

    return {"dram": case(stream_mib), "cache": case(CACHE_STREAM_MIB)}


def l3_bytes():
    """Size of the last-level cache in bytes (32 MiB when the system does not say)."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as file:
            text = file.read().strip()
        return int(text.rstrip("K")) * 1024 if text.endswith("K") else int(text)
    except (OSError, ValueError):
        return 32 * 2**20


def _bound_seconds(blocks, flops_key, bytes_key, peak, bandwidth_of):
    """Least seconds of one kind of op over all blocks: `max(FLOPs / peak, bytes / bandwidth)`."""
    seconds = 0.0
    for block in blocks:
        flops = sum(block[key] for key in flops_key)
        nbytes = block[bytes_key]
        seconds += max(flops / peak, nbytes / bandwidth_of(nbytes))
    return seconds


def roofline(blocks, matmul_gflops, bandwidth, cache_bandwidth, cache_size):
    """Upper bounds on the blocks' GFLOP/s from the bytes they move (see the module doc).

    An op whose tensors fit in the last-level cache gets the cache bandwidth,
    the others the DRAM one; `_dram` figures give every op the DRAM bandwidth.
    """
    peak = matmul_gflops * 1e9

    def with_cache(nbytes):
        return cache_bandwidth if nbytes <= cache_size else bandwidth

    def dram_only(nbytes):
        return bandwidth

    dw, pw, both = (
        ("depthwise_flops",),
        ("pointwise_flops",),
        ("depthwise_flops", "pointwise_flops"),
    )
    dw_flops = sum(block["depthwise_flops"] for block in blocks)
    pw_flops = sum(block["pointwise_flops"] for block in blocks)
    caps = {
        "depthwise_cap_gflops": dw_flops
        / _bound_seconds(blocks, dw, "depthwise_bytes", peak, with_cache),
        "pointwise_cap_gflops": pw_flops
        / _bound_seconds(blocks, pw, "pointwise_bytes", peak, with_cache),
    }
    for suffix, bandwidth_of in (("", with_cache), ("_dram", dram_only)):
        separate = _bound_seconds(blocks, dw, "depthwise_bytes", peak, bandwidth_of)
        separate += _bound_seconds(blocks, pw, "pointwise_bytes", peak, bandwidth_of)
        fused = _bound_seconds(blocks, both, "fused_bytes", peak, bandwidth_of)
        caps[f"cap_gflops_separate{suffix}"] = (dw_flops + pw_flops) / separate
        caps[f"cap_gflops_fused{suffix}"] = (dw_flops + pw_flops) / fused
    ratios = {name.replace("gflops", "ratio"): value / peak for name, value in caps.items()}
    dw_intensity = [block["depthwise_flops"] / block["depthwise_bytes"] for block in blocks]
    pw_intensity = [block["pointwise_flops"] / block["pointwise_bytes"] for block in blocks]
    return {
        "bandwidth_gb_s": round(bandwidth / 1e9, 1),
        "cache_bandwidth_gb_s": round(cache_bandwidth / 1e9, 1),
        "l3_mib": round(cache_size / 2**20, 1),
        "matmul_gflops": round(matmul_gflops, 1),
        "depthwise_flop_per_byte": [round(min(dw_intensity), 2), round(max(dw_intensity), 2)],
        "pointwise_flop_per_byte": [round(min(pw_intensity), 2), round(max(pw_intensity), 2)],
        **{name: round(value / 1e9, 1) for name, value in caps.items()},
        **{name: round(value, 3) for name, value in ratios.items()},
    }


def _prepare(size, filters, batch, block_count, chosen_layouts):
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # one traced function per block and layout is intended
    blocks, functions, checks = [], {}, {}
    chosen = separable_blocks(size, filters)[:block_count]
    for index, (name, depthwise, pointwise) in enumerate(chosen):
        input_shape = (batch, *depthwise.input.shape[1:])
        x = tf.random.stateless_normal(input_shape, seed=[index, 7])
        weights = block_weights(depthwise, pointwise, seed=index)
        layouts, output_shape = layout_functions(x, depthwise, pointwise, weights)
        flops = block_flops(output_shape, weights)
        blocks.append(
            {
                "block": name,
                "input_shape": list(input_shape),
                "output_shape": [*output_shape[:3], int(weights["pw"].shape[1])],
                "kernel": int(weights["dw"].shape[0]),
                "stride": weights["stride"],
                "dilation": weights["dilation"],
                "flops": int(sum(flops)),
                "depthwise_flops": int(flops[0]),
                "pointwise_flops": int(flops[1]),
                **block_bytes(input_shape, output_shape, weights),
            }
        )
        for layout, (function, convert_in, convert_out) in layouts.items():
            if layout not in chosen_layouts:
                continue
            converted = tf.constant(convert_in(x))
            compiled = tf.function(function, jit_compile=layout == "keras_xla", autograph=False)
            functions[(layout, name)] = lambda compiled=compiled, converted=converted: compiled(
                converted
            )
            checks[(layout, name)] = convert_out
    return blocks, functions, checks


def _layout_flops(layout, block):
    flops = {"depthwise_only": block["depthwise_flops"], "pointwise_only": block["pointwise_flops"]}
    return flops.get(layout, block["flops"])


def _max_abs_diffs(functions, checks):
    import numpy as np

    diffs = {}
    for (layout, block), function in functions.items():
        if layout in SEPARATE_LAYOUTS:
            continue
        output = np.asarray(checks[(layout, block)](function()))
        reference = np.asarray(functions[("keras", block)]())
        max_diff = float(np.max(np.abs(output - reference)))
        scale = max(float(np.max(np.abs(reference))), 1.0)
        diffs[(layout, block)] = (max_diff, max_diff <= SAME_OUTPUT_TOLERANCE * scale)
    return diffs


def _result(layout, block, seconds, flops, matmul_gflops, diff):
    gflops = flops / seconds / 1e9
    row = {
        "layout": layout,
        "block": block,
        "seconds": round(seconds, 5),
        "gflops": round(gflops, 2),
        "matmul_gflops": round(matmul_gflops, 1),
        "ratio_to_matmul": round(gflops / matmul_gflops, 3),
    }
    if diff is not None:
        row["max_abs_diff"], row["same_outputs"] = diff
    return row


def summarize(blocks, seconds, diffs, matmul_gflops):
    """Per-block rows and one `"all"` row per layout."""
    layouts = dict.fromkeys(layout for layout, _ in seconds)
    results = []
    for layout in layouts:
        total_seconds = total_flops = 0.0
        checked = []
        for block in blocks:
            key = (layout, block["block"])
            flops = _layout_flops(layout, block)
            results.append(
                _result(layout, block["block"], seconds[key], flops, matmul_gflops, diffs.get(key))
            )
            total_seconds += seconds[key]
            total_flops += flops
            if key in diffs:
                checked.append(diffs[key])
        summary = None
        if checked:
            summary = (max(diff for diff, _ in checked), all(same for _, same in checked))
        results.append(_result(layout, "all", total_seconds, total_flops, matmul_gflops, summary))
    return results


def best_layout(results):
    """`(layout, ratio)` of the fastest whole set of blocks with today's outputs."""
    totals = [row for row in results if row["block"] == "all" and row.get("same_outputs", False)]
    best = max(totals, key=lambda row: row["ratio_to_matmul"])
    return best["layout"], best["ratio_to_matmul"]


def main():
    setting, args = parse_setting(__doc__.split("\n\n")[0], _add_arguments)
    config = SETTINGS[setting]
    batch = args.batch or config["batch"]
    runs = args.runs or config["runs"]
    log(f"depthwise_cost: {setting}, batch {batch}, {runs} runs")
    block_count = config.get("blocks")
    chosen_layouts = {"keras", *(args.layout or config.get("layouts", LAYOUTS))}
    blocks, functions, checks = _prepare(
        config["size"], config["filters"], batch, block_count, chosen_layouts
    )
    diffs = _max_abs_diffs(functions, checks)
    functions["matmul"] = matmul_reference(config["matmul"])[0]
    seconds = interleaved_medians(functions, runs)
    matmul_gflops = 2.0 * config["matmul"] ** 3 / 1e9 / seconds.pop("matmul")
    results = summarize(blocks, seconds, diffs, matmul_gflops)
    bandwidth = measure_bandwidth(config["stream_mib"], runs)
    dram, cache = max(bandwidth["dram"].values()), max(bandwidth["cache"].values())
    bounds = roofline(blocks, matmul_gflops, dram * 1e9, cache * 1e9, l3_bytes())
    layout, ratio = best_layout(results)
    emit(
        {
            "benchmark": "depthwise_cost",
            "setting": setting,
            "machine": machine_description(),
            "recipe": RECIPE,
            "image_size": config["size"],
            "filters": config["filters"],
            "batch": batch,
            "runs": runs,
            "blocks": blocks,
            "results": results,
            "best_layout": layout,
            "best_ratio": ratio,
            "target": TARGET,
            "bandwidth_gb_s": dram,
            "bandwidth": bandwidth,
            "roofline": bounds,
        }
    )


if __name__ == "__main__":
    main()
