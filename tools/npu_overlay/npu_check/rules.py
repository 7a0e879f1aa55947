"""The checks: missing kernels, dynamic-shape hazards, and host synchronisation points.

Walks the graph once, keeping the location (``top``, ``while#1``, ``while#1/if#2:then``)
and loop depth of every op, and turns what it sees into Findings and OpUse rows.
"""

from __future__ import annotations

from collections import Counter

from . import dataflow
from .graph import Block, Graph, Op
from .kernels import KernelList
from .report import ControlFlow, Finding, ModelInputInfo, OpUse, Report
from .trip_count import trip_count

# Ascend runs these as StridedSliceAssign, which its graph engine rejects on dynamic shapes
SET_VALUE_OPS = {"set_value", "set_value_with_tensor"}
# ONNX's scatter updates: what a converted slice assignment becomes (upstream's decode loop)
SCATTER_OPS = {"ScatterND", "ScatterElements", "Scatter"}
# ONNX op names are not Paddle kernel names: ATC's own ONNX operator support decides there
KERNELS_NOT_USED = "not used for ONNX (Paddle kernel names; ATC's ONNX operator list decides op support)"

# warnings that --require-static turns into errors: any shape decided at run time (what
# Ascend's graph mode and its prebuilt kernels need). A loop or branch whose condition reads
# tensor values keeps every shape static: it costs host reads, reported with the loop.
STATIC_RULES = {
    "dynamic-input", "dynamic-shape", "shape-feeds-shape", "bounds-from-tensor", "shape-dependent-loop",
    "shape-dependent-branch",
}
# what --require-single-graph adds: no control flow at all (whole-graph compilers: ATC, TensorRT)
CONTROL_FLOW_RULES = {
    "data-dependent-loop", "counter-loop", "data-dependent-branch", "static-branch",
}

MESSAGES = {
    "no-kernel": "no kernel on this backend: falls back to the CPU with copies around it",
    "set-value-in-loop": "slice assignment in a loop body: Ascend's StridedSliceAssign needs static "
                         "shapes and dispatches once per step",
    "set-value": "slice assignment (StridedSliceAssign on Ascend): needs static shapes",
    "scatter-in-loop": "scatter update in a loop body: dynamic control flow around an in-place update",
    "scatter": "scatter update: ATC needs its indices' shape static",
    "dynamic-shape": "tensor without a static shape after ONNX shape inference: ATC needs every shape fixed",
    "dynamic-input": "model input with -1 dimensions: every new shape is a new NPU compilation",
    "shape-feeds-shape": "a shape read at run time (shape/shape64) sets this op's shape or bounds",
    "bounds-from-tensor": "shape, bounds or axis come from a tensor computed at run time, not an attribute",
    "data-dependent-loop": "loop exit depends on tensor values: the host reads the condition back from the "
                           "device before every iteration, and the trip count varies per input",
    "shape-dependent-loop": "trip count depends on a run-time shape: dynamic control flow",
    "counter-loop": "trip count fixed by a counter: the same every run; the host still reads the condition "
                    "back before every iteration",
    "data-dependent-branch": "branch condition depends on tensor values: a device->host read",
    "shape-dependent-branch": "branch condition depends on a run-time shape",
    "static-branch": "branch on a constant or counter, decided on the host",
}


def display_name(op: Op) -> str:
    return op.type if op.dialect == "legacy" else f"{op.dialect}.{op.type}"


class _Walk:
    def __init__(self, graph: Graph, kernels: KernelList, require_static: bool, require_single_graph: bool):
        self.graph = graph
        self.kernels = kernels
        self.require_static = require_static or require_single_graph
        self.require_single_graph = require_single_graph
        self.flow = dataflow.trace(graph)
        self.ops: Counter = Counter()
        self.findings: Counter = Counter()
        self.control_flow: list[ControlFlow] = []
        self.counter = 0

    def note(self, rule: str, op: str, location: str, depth: int, extra: str = "") -> None:
        if rule in STATIC_RULES:
            severity = "error" if self.require_static else "warning"
        elif rule in CONTROL_FLOW_RULES and self.require_single_graph:
            severity = "error"
        elif rule in ("data-dependent-loop", "data-dependent-branch"):
            severity = "warning"
        elif rule in ("no-kernel", "set-value-in-loop", "scatter-in-loop"):
            severity = "error"
        elif rule in ("set-value", "scatter"):
            severity = "warning"
        else:
            severity = "info"
        message = MESSAGES[rule] + (f" ({extra})" if extra else "")
        self.findings[(severity, rule, op, location, depth, message)] += 1

    def block(self, block: Block, location: str, depth: int) -> None:
        for op in block.ops:
            self.op(op, block, location, depth)

    def op(self, op: Op, block: Block, location: str, depth: int) -> None:
        name = display_name(op)
        match = self.kernels.match(op)
        self.ops[(name, match.kernel, match.mapping, match.admitted_by, location, depth)] += 1
        if match.missing:
            self.note("no-kernel", name, location, depth, f"kernel '{match.kernel}'")
        if op.type.rstrip("_") in SET_VALUE_OPS:
            self.note("set-value-in-loop" if depth else "set-value", name, location, depth)
        if op.dialect == "onnx" and op.type in SCATTER_OPS:
            self.note("scatter-in-loop" if depth else "scatter", name, location, depth)
        self.bounds(op, name, location, depth)
        if op.blocks:
            self.control(op, block, name, location, depth)

    def bounds(self, op: Op, name: str, location: str, depth: int) -> None:
        found = self.flow.bounds.get(id(op), set())
        if not found:  # attributes, or tensors folded from constants
            return
        kind = dataflow.dependence(found)
        if kind == "shape":
            self.note("shape-feeds-shape", name, location, depth)
        else:
            self.note("bounds-from-tensor", name, location, depth,
                      "a loop counter" if kind == "counter" else "tensor values")

    def control(self, op: Op, block: Block, name: str, location: str, depth: int) -> None:
        self.counter += 1
        label = f"{op.type}#{self.counter}"
        prefix = label if location == "top" else f"{location}/{label}"
        loop = op.type in dataflow.LOOP_OPS
        inner = depth + 1 if loop else depth
        condition = dataflow.dependence(self.flow.conditions.get(id(op), set()))
        if loop:
            rule = {"data": "data-dependent-loop", "shape": "shape-dependent-loop"}.get(condition, "counter-loop")
        else:
            rule = {"data": "data-dependent-branch", "shape": "shape-dependent-branch"}.get(condition,
                                                                                          "static-branch")
        trips = trip_count(op, block) if loop else None
        if loop and condition == "data" and trips is not None and trips.exact:
            rule = "counter-loop"  # the counter alone decides; "data" came from the values it carries
        branch_names = ["then", "else"] if op.type in ("if", "If") and len(op.blocks) == 2 else None
        for k, body in enumerate(op.blocks):
            body_label = prefix if len(op.blocks) == 1 else f"{prefix}:{branch_names[k] if branch_names else k}"
            nested = sum(_count_ops(sub) for o in body.ops for sub in o.blocks)
            cost = _cost(loop, trips, len(body.ops) + nested)
            self.control_flow.append(ControlFlow(name, location, body_label, inner, condition,
                                                 len(body.ops), nested, str(trips) if trips else "?", cost))
            extra = f"{body_label}: {len(body.ops) + nested} ops per iteration; {cost}" if loop else ""
            if k == 0:
                where = "every iteration of the enclosing loop" if depth and not loop else ""
                self.note(rule, name, location, depth, "; ".join(x for x in (extra, where) if x))
            self.block(body, body_label, inner)


def _cost(loop: bool, trips, ops_per_iteration: int) -> str:
    """What the op costs per run: host reads of its condition and ops dispatched."""
    if not loop:
        return "1 host read per run"
    if trips is None:
        return "trip count unknown: one host read per iteration"
    bound = "" if trips.exact else "at most "
    return (f"{bound}{trips.iterations} iterations: {bound}{trips.iterations + 1} host reads and "
            f"{bound}{trips.iterations * ops_per_iteration} ops per run")


def _count_ops(block: Block) -> int:
    return sum(1 + sum(_count_ops(sub) for sub in op.blocks) for op in block.ops)


def run_checks(graph: Graph, kernels: KernelList, require_static: bool = False,
               require_single_graph: bool = False) -> Report:
    walk = _Walk(graph, kernels, require_static, require_single_graph)
    for spec in graph.inputs:
        if any(dim < 0 for dim in spec.shape):
            walk.note("dynamic-input", "", "top", 0, f"{spec.name} {spec.shape}")
    for op_type, _ in graph.dynamic_values:  # one count per tensor, grouped by the op making it
        walk.note("dynamic-shape", f"onnx.{op_type}", "any", 0)
    walk.block(graph.top, "top", 0)
    order = {s: i for i, s in enumerate(("error", "warning", "info"))}
    findings = [Finding(sev, rule, op, loc, depth, n, msg)
                for (sev, rule, op, loc, depth, msg), n in walk.findings.items()]
    findings.sort(key=lambda f: order[f.severity])  # stable: walk order within a severity
    return Report(
        model=str(graph.path),
        format=graph.format,
        kernel_list=KERNELS_NOT_USED if graph.format == "onnx" else str(kernels.path),
        require_static=require_static,
        require_single_graph=require_single_graph,
        inputs=[ModelInputInfo(s.name, list(s.shape), s.dtype) for s in graph.inputs],
        control_flow=walk.control_flow,
        ops=[OpUse(*key, n) for key, n in walk.ops.items()],
        findings=findings,
    )
