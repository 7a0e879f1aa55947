"""Reader for ONNX models (``model.onnx``: paddle2onnx output, npu_overlay.onnx_export).

Ops keep their ONNX names (``Conv``, ``Loop``) under the dialect ``onnx``. Loop / If / Scan
bodies become blocks wired like Paddle's while / if, so the same dataflow decides whether a
loop exit or branch depends on the image. Shape inference marks the tensors whose shape is
not static, which ATC would reject.
"""

from __future__ import annotations

from pathlib import Path

from .graph import Block, Graph, ModelInput, ModelReadError, Op

# operand positions that set a shape, bound, axis or size at run time when not constant
BOUND_OPERANDS = {
    "Reshape": (1,), "Expand": (1,), "Tile": (1,), "Slice": (1, 2, 3, 4), "ConstantOfShape": (0,),
    "Range": (0, 1, 2), "Pad": (1,), "TopK": (1,), "Squeeze": (1,), "Unsqueeze": (1,), "Split": (1,),
    "Resize": (2, 3), "Upsample": (1,), "OneHot": (1,), "ReduceSum": (1,), "ReduceMean": (1,),
    "ReduceMax": (1,), "ReduceMin": (1,), "ReduceProd": (1,), "CumSum": (1,),
}
ELEM_TYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}


def _dims(value_info) -> list[int]:
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return [-1]
    return [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]


def _subgraphs(node) -> list:
    found = []
    for attr in node.attribute:
        if attr.HasField("g"):
            found.append((attr.name, attr.g))
        found += [(attr.name, g) for g in attr.graphs]
    # If: then before else, as Paddle's if has them
    return [g for _, g in sorted(found, key=lambda item: item[0] != "then_branch")]


def _read_graph(graph, dynamic: list[tuple[str, str]], shapes: dict[str, list[int]]) -> Block:
    shapes.update({v.name: _dims(v) for v in [*graph.value_info, *graph.output, *graph.input]})
    shapes.update({t.name: list(t.dims) for t in graph.initializer})
    ops = []
    for node in graph.node:
        op = Op(type=node.op_type, dialect="onnx", inputs=list(node.input), outputs=list(node.output))
        op.bound_inputs = [op.inputs[i] for i in BOUND_OPERANDS.get(node.op_type, ())
                           if i < len(op.inputs) and op.inputs[i]]
        for out in node.output:
            if out and any(d < 0 for d in shapes.get(out, [-1])):
                dynamic.append((node.op_type, out))
        bodies = _subgraphs(node)
        if bodies:
            op.blocks = [_read_graph(body, dynamic, shapes) for body in bodies]
            _wire_control_flow(op, bodies)
        ops.append(op)
    return Block(ops)


def _wire_control_flow(op: Op, bodies: list) -> None:
    body_in = [v.name for v in bodies[0].input]
    body_out = [v.name for v in bodies[0].output]
    if op.type == "Loop":
        # inputs (trip count M, cond, carried...); body (iteration, cond, carried...) -> (cond, carried..., scans...)
        op.condition = op.inputs[1] if len(op.inputs) > 1 and op.inputs[1] else (op.inputs[0] or None)
        op.step_condition = body_out[0] if body_out else None
        op.carried = [(body_in[k], op.inputs[k]) for k in range(len(body_in)) if k < len(op.inputs)]
        op.carried += [(body_in[k], body_out[k - 1]) for k in range(1, len(body_in)) if k - 1 < len(body_out)]
        op.results = [(out, [body_out[k + 1]]) for k, out in enumerate(op.outputs) if k + 1 < len(body_out)]
    elif op.type == "Scan":  # a fixed trip count over the scanned axis: carried states only
        op.carried = [(name, op.inputs[k]) for k, name in enumerate(body_in) if k < len(op.inputs)]
        op.results = [(out, [body_out[k]]) for k, out in enumerate(op.outputs) if k < len(body_out)]
    else:  # If: result k is output k of whichever branch ran
        op.condition = op.inputs[0] if op.inputs else None
        outs = [[v.name for v in body.output] for body in bodies]
        op.results = [(out, [o[k] for o in outs if k < len(o)]) for k, out in enumerate(op.outputs)]


def read_onnx(path: Path) -> Graph:
    try:
        import onnx
    except ImportError:
        raise ModelReadError(f"{path}: reading ONNX needs the onnx package (pip install onnx)") from None
    try:
        model = onnx.load(path)
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and friends
        raise ModelReadError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    if not model.graph.node:
        raise ModelReadError(f"{path}: the ONNX graph has no nodes")
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001 - an ill-typed model still gets its ops and control flow read
        inferred = model
    graph = inferred.graph
    initializers = {t.name for t in graph.initializer}
    inputs = [ModelInput(v.name, _dims(v), ELEM_TYPES.get(v.type.tensor_type.elem_type, "other"))
              for v in graph.input if v.name not in initializers]
    dynamic: list[tuple[str, str]] = []
    top = _read_graph(graph, dynamic, {})
    return Graph(path=path, format="onnx", top=top, inputs=inputs,
                 input_values=[spec.name for spec in inputs], dynamic_values=dynamic)
