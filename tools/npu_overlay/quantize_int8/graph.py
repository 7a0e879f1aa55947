"""Which nodes of a table model each variant quantizes, and what the QDQ graph looks like.

The split between encoder (backbone + neck) and head is read from the data flow, not from
node names (paddle2onnx numbers them): the encoder is the last Conv and everything it
depends on; SLANet's head has no Conv, so every node outside that set belongs to the head.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from npu_overlay.quantize_int8 import OP_TYPES, VARIANTS, QuantizeError


def encoder_nodes(graph) -> set[str]:
    """Names of the last Conv and of every node it depends on (none in a head-only model)."""
    producer = {out: node for node in graph.node for out in node.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    if not convs:
        return set()
    seen, stack = set(), [convs[-1]]
    while stack:
        node = stack.pop()
        if node.name in seen:
            continue
        seen.add(node.name)
        stack.extend(producer[i] for i in node.input if i in producer)
    return seen


def has_constant_weight(node, initializers: dict) -> bool:
    """MatMul/Gemm whose second input is a constant 2-D matrix (AMCT's "single-input" MatMul)."""
    weight = initializers.get(node.input[1]) if len(node.input) > 1 else None
    return weight is not None and len(weight.dims) == 2


@dataclass
class Selection:
    quantize: list[str] = field(default_factory=list)        # node names handed to quantize_static
    exclude: list[str] = field(default_factory=list)         # OP_TYPES nodes kept fp32
    matmul_weights: list[str] = field(default_factory=list)  # MatMul/Gemm weights: per-tensor (AMCT)
    counts: dict[str, int] = field(default_factory=dict)
    op_types: list[str] = field(default_factory=list)        # the op types of the nodes quantized


def is_depthwise(node, initializers: dict) -> bool:
    """A Conv with one input channel per group and more than one group."""
    weight = initializers.get(node.input[1])
    group = next((a.i for a in node.attribute if a.name == "group"), 1)
    return group > 1 and weight is not None and len(weight.dims) == 4 and weight.dims[1] == 1


def select(model, variant: str, keep_fp32: frozenset[str] = frozenset()) -> Selection:
    """The nodes ``variant`` quantizes, less the node names in ``keep_fp32``."""
    if variant not in VARIANTS:
        raise QuantizeError(f"variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    spec = VARIANTS[variant]
    graph = model.graph
    names = [n.name for n in graph.node]
    if len(set(names)) != len(names) or not all(names):
        raise QuantizeError("every node needs a unique name to be selected (run npu_overlay.onnx_export first)")
    initializers = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    encoder = encoder_nodes(graph)
    chosen = Selection()
    for node in graph.node:
        if node.op_type not in OP_TYPES:
            continue
        if node.op_type == "Conv":
            keep = spec.convs and node.name in encoder and not (spec.depthwise_fp32 and is_depthwise(node, initializers))
        else:
            keep = spec.matrices and has_constant_weight(node, initializers)
            source = producer.get(node.input[0])  # the attention's context: softmax x features, two activations
            if spec.context_fp32 and source is not None and source.op_type == "MatMul" \
                    and not has_constant_weight(source, initializers):
                keep = False
        keep = keep and node.name not in keep_fp32
        (chosen.quantize if keep else chosen.exclude).append(node.name)
        if keep and node.op_type != "Conv":
            chosen.matmul_weights.append(node.input[1])
        key = f"{node.op_type} {'int8' if keep else 'fp32'}"
        chosen.counts[key] = chosen.counts.get(key, 0) + 1
    chosen.op_types = sorted({n.op_type for n in graph.node if n.name in set(chosen.quantize)})
    return chosen


@dataclass
class QdqSummary:
    """What the QDQ graph holds: pairs, the ops they feed, and the weight scales' shapes."""
    quantize_linear: int = 0
    dequantize_linear: int = 0
    quantized_ops: dict[str, int] = field(default_factory=dict)       # op type -> nodes fed by a DQ
    dq_consumers: dict[str, int] = field(default_factory=dict)        # op types that read a DQ output
    per_channel_weights: dict[str, int] = field(default_factory=dict)  # op type -> weights with axis scales
    per_tensor_weights: dict[str, int] = field(default_factory=dict)
    unpaired_q: int = 0                                               # Q not followed by a DQ only
    problems: list[str] = field(default_factory=list)


def summarize_qdq(model) -> QdqSummary:
    """QuantizeLinear/DequantizeLinear pairs around OP_TYPES only, and per-channel Conv weights."""
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    s = QdqSummary()
    ops = Counter(n.op_type for n in graph.node)
    s.quantize_linear, s.dequantize_linear = ops["QuantizeLinear"], ops["DequantizeLinear"]
    dq_readers, quantized, per_channel, per_tensor = Counter(), Counter(), Counter(), Counter()
    for node in graph.node:
        if node.op_type == "QuantizeLinear":
            readers = consumers.get(node.output[0], [])
            if not readers or any(r.op_type != "DequantizeLinear" for r in readers):
                s.unpaired_q += 1
        if node.op_type != "DequantizeLinear":
            continue
        readers = consumers.get(node.output[0], [])
        dq_readers.update(r.op_type for r in readers)
        source = node.input[0]
        if source in initializers:  # a weight (or an int32 bias) stored quantized
            scale = initializers.get(node.input[1])
            vector = scale is not None and len(scale.dims) == 1 and scale.dims[0] > 1
            for reader in readers:
                if reader.input[1] == node.output[0]:
                    (per_channel if vector else per_tensor)[reader.op_type] += 1
        elif source in producer and producer[source].op_type != "QuantizeLinear":
            s.problems.append(f"DequantizeLinear {node.name} reads {producer[source].op_type}, not a QuantizeLinear")
    for node in graph.node:
        if node.op_type in OP_TYPES and any(producer.get(i) is not None and producer[i].op_type == "DequantizeLinear"
                                            for i in node.input):
            quantized[node.op_type] += 1
    s.dq_consumers, s.quantized_ops = dict(dq_readers), dict(quantized)
    s.per_channel_weights, s.per_tensor_weights = dict(per_channel), dict(per_tensor)
    strays = sorted(set(dq_readers) - set(OP_TYPES))
    if strays:
        s.problems.append(f"DequantizeLinear outputs read by {', '.join(strays)}: AMCT pairs QDQ with Conv/Gemm/MatMul only")
    if s.unpaired_q:
        s.problems.append(f"{s.unpaired_q} QuantizeLinear node(s) not followed by a DequantizeLinear")
    if per_tensor.get("Conv"):
        s.problems.append(f"{per_tensor['Conv']} Conv weight(s) quantized per tensor, expected per channel")
    if per_channel.get("MatMul") or per_channel.get("Gemm"):
        s.problems.append("MatMul/Gemm weights quantized per channel: AMCT takes them per tensor only")
    return s
