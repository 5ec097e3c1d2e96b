"""Floating-point operations of a Keras functional model, counted from its layers, per image.

What is counted: 2 x the multiply-adds of every convolution (`Conv2D`,
`Conv2DTranspose`, `DepthwiseConv2D`, `SeparableConv2D`, `PartialConv2D`
with its one-channel mask-count convolution, `RateAdaptiveConv2D`), dense
layer (`Dense`, `ChannelWiseDense`, `CellWiseDense`) and of the matrix
products of `ContextualAttention` (its implementation's own products). Not
counted: normalisation, activations, element-wise arithmetic, pooling,
resizing, padding and the attention's softmax (all O(size) or O(N^2) without
a channel factor). Nested functional models are walked through the nodes of
the graph that calls them, so a shared sub-model called twice counts twice.

`profiler_flops` cross-checks with TensorFlow's graph profiler, which counts
the ops with registered FLOP statistics (`Conv2D`, `Conv2DBackpropInput`,
`MatMul`, ...) whose shapes are static in the traced graph.

Example:
    >>> import keras
    >>> from flop_count import count_flops
    >>> inputs = keras.Input((8, 8, 3))
    >>> model = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same")(inputs))
    >>> count_flops(model)["flops"]
    13824
"""

import math

import keras


def _hw(shape):
    return int(shape[1]) * int(shape[2])


def _conv_flops(layer, node):
    output_shape = node.output_tensors[0].shape
    kernel = layer.kernel.shape  # (kh, kw, cin / groups, cout)
    return 2 * _hw(output_shape) * math.prod(int(side) for side in kernel)


def _transpose_flops(layer, node):
    input_shape = node.input_tensors[0].shape
    return 2 * _hw(input_shape) * math.prod(int(side) for side in layer.kernel.shape)


def _depthwise_flops(layer, node):
    output_shape = node.output_tensors[0].shape
    return 2 * _hw(output_shape) * math.prod(int(side) for side in layer.kernel.shape)


def _separable_flops(layer, node):
    output_shape = node.output_tensors[0].shape
    depthwise = math.prod(int(side) for side in layer.depthwise_kernel.shape)
    pointwise = math.prod(int(side) for side in layer.pointwise_kernel.shape)
    return 2 * _hw(output_shape) * (depthwise + pointwise)


def _dense_flops(layer, node):
    positions = math.prod(int(side) for side in node.input_tensors[0].shape[1:-1])
    return 2 * positions * math.prod(int(side) for side in layer.kernel.shape)


def _weights_flops(layer, node):
    # ChannelWiseDense (C, P, P) and CellWiseDense (H, W, C, U): one multiply-add per weight.
    return 2 * math.prod(int(side) for side in layer.kernel.shape)


def _partial_conv_flops(layer, node):
    output_shape = node.output_tensors[0].shape
    kernel_h, kernel_w = layer.kernel_size
    # The features' convolution plus the one-channel convolution that counts valid pixels.
    return _conv_flops(layer, node) + 2 * _hw(output_shape) * kernel_h * kernel_w


def _attention_flops(layer, node):
    _, height, width, channels = (int(side) if side else 0 for side in node.input_tensors[0].shape)
    positions = height * width
    if layer.implementation == "patches":
        # Patch Gram (N x 9C by 9C x N) and rebuilding (N x N by N x 9C).
        return 2 * (2 * positions * positions * 9 * channels)
    # Pixel Gram (N x C by C x N) and the folded rebuilding (N x N by N x C).
    return 2 * (2 * positions * positions * channels)


FLOP_RULES = {
    "Conv2D": _conv_flops,
    "Conv2DTranspose": _transpose_flops,
    "DepthwiseConv2D": _depthwise_flops,
    "SeparableConv2D": _separable_flops,
    "Dense": _dense_flops,
    "ChannelWiseDense": _weights_flops,
    "CellWiseDense": _weights_flops,
    "PartialConv2D": _partial_conv_flops,
    "RateAdaptiveConv2D": _conv_flops,
    "ContextualAttention": _attention_flops,
}


def count_flops(model):
    """`{"flops", "by_layer_type", "uncounted"}` of one forward pass of one image.

    `uncounted` lists layers that hold weights but have no rule here (so a
    new layer type shows up instead of silently counting 0).
    """
    by_type = {}
    uncounted = set()
    _walk(model, by_type, uncounted)
    return {
        "flops": int(sum(by_type.values())),
        "by_layer_type": dict(sorted(by_type.items())),
        "uncounted": sorted(uncounted),
    }


def _walk(model, by_type, uncounted):
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            operation = node.operation
            if isinstance(operation, keras.Model) and hasattr(operation, "_nodes_by_depth"):
                _walk(operation, by_type, uncounted)
                continue
            type_name = type(operation).__name__
            rule = FLOP_RULES.get(type_name)
            if rule is None:
                # Normalisation layers hold weights but no multiply-adds worth counting.
                is_norm = "Normalization" in type_name
                if operation.weights and not is_norm:
                    uncounted.add(type_name)
                continue
            by_type[type_name] = by_type.get(type_name, 0) + int(rule(operation, node))


def profiler_flops(function, input_specs):
    """FLOPs TensorFlow's graph profiler counts in `function` traced on `input_specs`.

    Returns `(total, by_op_type)`. Ops whose shapes are not static in the
    graph (e.g. a transposed convolution whose output shape is computed
    from the batch size at run time) count 0, so this is a lower bound.
    """
    import tensorflow as tf

    graph = tf.function(function).get_concrete_function(*input_specs).graph
    options = (
        tf.compat.v1.profiler.ProfileOptionBuilder(
            tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        )
        .with_empty_output()
        .build()
    )
    report = tf.compat.v1.profiler.profile(graph=graph, cmd="op", options=options)
    by_op = {child.name: int(child.total_float_ops) for child in report.children}
    return int(report.total_float_ops), by_op
