"""What ATC needs from the ONNX: a valid model, every tensor's shape static, no dynamic control
flow or scatter updates, an opset ATC parses, and standard ops only."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from npu_overlay.onnx_export import ATC_OPSET_MAX, ATC_OPSET_MIN, FORBIDDEN_OPS


@dataclass
class CheckResult:
    problems: list[str] = field(default_factory=list)
    opset: int | None = None
    nodes: int = 0
    op_counts: dict[str, int] = field(default_factory=dict)
    inputs: dict[str, list[int]] = field(default_factory=dict)
    outputs: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _dims(value_info) -> list[int] | None:
    """Static dims, or None when any dimension is symbolic or unknown."""
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
    return None if any(d < 0 for d in dims) else dims


def _all_nodes(graph):
    for node in graph.node:
        yield node
        for attr in node.attribute:  # Loop / If / Scan bodies
            subgraphs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
            for sub in subgraphs:
                yield from _all_nodes(sub)


def check(model) -> CheckResult:
    import onnx

    result = CheckResult()
    nodes = list(_all_nodes(model.graph))
    result.nodes = len(model.graph.node)
    result.op_counts = dict(Counter(n.op_type for n in nodes).most_common())
    opsets = {op.domain: op.version for op in model.opset_import}
    result.opset = opsets.get("", opsets.get("ai.onnx"))
    if result.opset is None or not ATC_OPSET_MIN <= result.opset <= ATC_OPSET_MAX:
        result.problems.append(f"opset {result.opset}: ATC parses opset {ATC_OPSET_MIN}-{ATC_OPSET_MAX}")
    foreign = sorted({f"{n.domain}::{n.op_type}" for n in nodes if n.domain not in ("", "ai.onnx")})
    if foreign:
        result.problems.append(f"non-standard ops ATC cannot parse: {', '.join(foreign)}")
    for op in FORBIDDEN_OPS:
        if result.op_counts.get(op):
            result.problems.append(f"{result.op_counts[op]} {op} node(s): dynamic control flow or scatter update")
    try:
        onnx.checker.check_model(model)
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        result.problems.append(f"invalid model: {str(exc).strip().splitlines()[0]}")
        return result
    graph = inferred.graph
    initializers = {t.name for t in graph.initializer}
    result.inputs = {v.name: _dims(v) for v in graph.input if v.name not in initializers}
    result.outputs = {v.name: _dims(v) for v in graph.output}
    known = {v.name: _dims(v) for v in [*graph.value_info, *graph.output, *graph.input]}
    dynamic = Counter()
    for node in graph.node:
        for name in node.output:
            if name and known.get(name) is None:
                dynamic[node.op_type] += 1
    if dynamic:
        where = ", ".join(f"{op} x{n}" for op, n in dynamic.most_common())
        result.problems.append(f"{sum(dynamic.values())} tensor(s) without a static shape after shape inference ({where})")
    for kind, shapes in (("input", result.inputs), ("output", result.outputs)):
        for name, dims in shapes.items():
            if dims is None:
                result.problems.append(f"{kind} {name} has no static shape")
    return result
