"""Split fused matrices into their parts before quantizing, so each part gets its own scale.

SLANet's decoder step multiplies the hidden state by one fused [256, 1074] matrix whose output
an Add (bias) and a Split cut into four parts: attention (256), GRU gates (512), GRU candidate
(256) and the step's structure logits (50), whose argmax picks the next token. AMCT quantizes
MatMul weights per tensor only, and the logits' columns are about 8x larger than the others
(max |w| 13.8 against 1.6-4.0), so one scale leaves the GRU's columns a few int8 levels. Here
MatMul -> Add -> Split becomes one MatMul -> Add per part, writing the Split's outputs: the
same arithmetic in fp32, and per-tensor weights that AMCT still takes, one scale per part.
"""

from __future__ import annotations

import numpy as np


def prepare(model, variant: str):
    """(the fp32 graph ``variant`` quantizes, how many fused matrices were split): the model
    itself, or with ``split_fused`` a copy whose fused step matrices are split."""
    import onnx

    from npu_overlay.quantize_int8 import VARIANTS

    if not VARIANTS[variant].split_fused:
        return model, 0
    inferred = onnx.shape_inference.infer_shapes(model)  # ranks, to find each Split's last axis
    count = split_fused_matmuls(inferred)
    del inferred.graph.value_info[:]  # the shapes were only needed here
    return inferred, count


def _constant(initializers: dict, name: str) -> np.ndarray | None:
    from onnx import numpy_helper

    return numpy_helper.to_array(initializers[name]) if name in initializers else None


def split_fused_matmuls(model) -> int:
    """Rewrite, in place, every MatMul (constant 2-D weight) -> Add (constant 1-D bias) -> Split
    on the last axis with constant sizes; return how many were split. Slices shared by several
    MatMuls (the unrolled decoder's steps) are stored once."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}

    def only_reader(tensor):
        readers = consumers.get(tensor, [])
        return readers[0] if len(readers) == 1 and tensor not in outputs else None

    slices: dict[tuple[str, int, int], str] = {}

    def sliced(name: str, array: np.ndarray, start: int, stop: int) -> str:
        key = (name, start, stop)
        if key not in slices:
            slices[key] = f"{name}.cols{start}_{stop}"
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array[..., start:stop]), slices[key]))
        return slices[key]

    rewrites = []
    for node in graph.node:
        if node.op_type != "MatMul" or len(node.input) != 2:
            continue
        weight = _constant(initializers, node.input[1])
        add = only_reader(node.output[0])
        if weight is None or weight.ndim != 2 or add is None or add.op_type != "Add":
            continue
        bias_name = add.input[1] if add.input[0] == node.output[0] else add.input[0]
        bias = _constant(initializers, bias_name)
        split = only_reader(add.output[0])
        if bias is None or bias.shape != (weight.shape[1],) or split is None or split.op_type != "Split":
            continue
        axis = next((a.i for a in split.attribute if a.name == "axis"), 0)
        sizes = _constant(initializers, split.input[1]) if len(split.input) > 1 else None
        # the last axis: -1, or the rank of the activation times the weight (2 + leading dims)
        if sizes is None or sizes.sum() != weight.shape[1] or axis not in (-1, _rank(graph, node.input[0]) - 1):
            continue
        rewrites.append((node, add, split, weight, bias_name, bias, [int(s) for s in sizes]))

    for matmul, add, split, weight, bias_name, bias, sizes in rewrites:
        position = list(graph.node).index(matmul)
        parts, start = [], 0
        for k, (size, out) in enumerate(zip(sizes, split.output)):
            stop = start + size
            product = f"{matmul.output[0]}.part{k}"
            parts.append(helper.make_node("MatMul", [matmul.input[0], sliced(matmul.input[1], weight, start, stop)],
                                          [product], name=f"{matmul.name}.part{k}"))
            parts.append(helper.make_node("Add", [product, sliced(bias_name, bias, start, stop)],
                                          [out], name=f"{add.name}.part{k}"))
            start = stop
        for node in (matmul, add, split):
            graph.node.remove(node)
        for offset, node in enumerate(parts):
            graph.node.insert(position + offset, node)
    if rewrites:  # the fused matrices, biases and split sizes nothing reads any more
        read = {name for node in graph.node for name in node.input}
        for tensor in [t for t in graph.initializer if t.name not in read and t.name in initializers]:
            graph.initializer.remove(tensor)
    return len(rewrites)


def _rank(graph, tensor: str) -> int:
    """Rank of a tensor from the graph's shape information (-1 when unknown: no rewrite)."""
    for info in [*graph.value_info, *graph.input, *graph.output]:
        if info.name == tensor and info.type.tensor_type.HasField("shape"):
            return len(info.type.tensor_type.shape.dim)
    return -1
