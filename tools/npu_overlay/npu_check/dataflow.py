"""Where each value comes from: model input data, tensor shapes, loop counters, or constants.

A forward pass tags every value with the kinds of run-time information it depends on;
loops are iterated until the tags of their carried values stop growing. The tags decide
whether a loop exit or a slice bound is data-dependent, shape-dependent, or a counter.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .graph import Block, Graph, Op

INPUT = "input"   # the values of a model input (anything computed from the image)
SHAPE = "shape"   # a tensor's run-time shape, read on the host
LOOP = "loop"     # a value carried from one loop step to the next (a counter, a state)

SOURCES = {"data", "feed"}
LOOP_OPS = {"while", "Loop", "Scan"}  # Paddle's and ONNX's
# ops whose result depends on their input's shape only, never on its values
SHAPE_READERS = {
    "shape", "shape64", "full_like", "fill_any_like", "zeros_like", "ones_like", "empty_like",
    "full_batch_size_like", "fill_constant_batch_size_like", "Shape", "Size",
}

Tags = dict[str, set[str]]


@dataclass
class Flow:
    tags: Tags
    # what each op saw when it ran, keyed by id(op): ProgramDesc reuses variable names, so
    # a name's final tags can include what happened later (a loop counter read after the loop)
    bounds: dict[int, set[str]] = field(default_factory=dict)
    conditions: dict[int, set[str]] = field(default_factory=dict)


def trace(graph: Graph) -> Flow:
    flow = Flow(defaultdict(set))
    for value in graph.input_values:
        flow.tags[value].add(INPUT)
    _block(graph.top, flow)
    return flow


def tags_of(tags: Tags, values) -> set[str]:
    found: set[str] = set()
    for value in values:
        if value:
            found |= tags.get(value, set())
    return found


def dependence(found: set[str]) -> str:
    """The strongest kind of run-time information in a set of tags."""
    for tag, name in ((INPUT, "data"), (SHAPE, "shape"), (LOOP, "counter")):
        if tag in found:
            return name
    return "constant"


def _block(block: Block, flow: Flow) -> None:
    for op in block.ops:
        _op(op, flow)


def _size(tags: Tags) -> int:
    return sum(len(v) for v in tags.values())


def _op(op: Op, flow: Flow) -> None:
    tags = flow.tags
    flow.bounds[id(op)] = tags_of(tags, op.bound_inputs)
    if op.blocks:
        _control_flow(op, flow)
        return
    if op.type in SOURCES:
        new = {INPUT}
    elif op.type.rstrip("_") in SHAPE_READERS:
        new = {SHAPE}
    else:
        new = tags_of(tags, op.inputs)
    for out in op.outputs:
        if out:
            tags[out] |= new


def _control_flow(op: Op, flow: Flow) -> None:
    tags = flow.tags
    if op.type in LOOP_OPS:
        for body_value, _ in op.carried:
            tags[body_value].add(LOOP)
        while True:  # tags only grow, so this ends
            before = _size(tags)
            for body_value, source in op.carried:
                tags[body_value] |= tags_of(tags, [source])
            for block in op.blocks:
                _block(block, flow)
            if _size(tags) == before:
                break
    else:
        for block in op.blocks:
            _block(block, flow)
    # which branch ran, or how often the loop turned, is itself information in the results
    control = tags_of(tags, [op.condition, op.step_condition])
    flow.conditions[id(op)] = control
    for out, sources in op.results:
        tags[out] |= tags_of(tags, sources) | control
