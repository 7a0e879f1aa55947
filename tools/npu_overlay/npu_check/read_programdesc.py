"""Reader for the ProgramDesc protobuf (``inference.pdmodel``: Paddle 2.x and PaddleX exports).

Parsed with Paddle's own ``framework_pb2`` message; nothing is executed. Control flow
lives in numbered blocks that ops point to through ``sub_block`` attributes; variables
are named, and a loop carries a value by assigning a new value to the same name.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from .graph import CONSTANT_ATTRS, Block, Graph, ModelInput, ModelReadError, Op

# input slots that carry a shape, bound or axis as a tensor instead of an attribute
# (StartsTensorList, ShapeTensor, EndsTensorList, OutSize, ...); the value-carrying
# slots that share the suffix are not bounds
VALUE_SLOTS = {"ValueTensor", "ScaleTensor", "BiasTensor"}
EXTRA_BOUND_SLOTS = {"Shape", "OutSize", "SizeTensor"}


def _is_bound_slot(slot: str) -> bool:
    if slot in VALUE_SLOTS:
        return False
    return slot in EXTRA_BOUND_SLOTS or slot.endswith(("Tensor", "TensorList", "_tensor"))


def _framework_pb2():
    try:
        with warnings.catch_warnings():  # Paddle warns about build tools on import; irrelevant here
            warnings.simplefilter("ignore")
            from paddle.base.proto import framework_pb2
    except ImportError as exc:
        raise ModelReadError(f"reading a .pdmodel needs paddlepaddle ({exc})") from None
    return framework_pb2


def _sub_blocks(op_desc) -> list[int]:
    found = []
    for attr in op_desc.attrs:
        if attr.HasField("block_idx") and attr.name in ("sub_block", "block"):
            found.append(attr.block_idx)
        found.extend(attr.blocks_idx)
    return found


def _constant_attrs(desc) -> dict:
    found = {}
    for attr in desc.attrs:
        if attr.name in CONSTANT_ATTRS:
            found[attr.name] = attr.f if attr.HasField("f") else attr.l if attr.HasField("l") else attr.i
    return found


def _read_block(program, idx: int, seen: set[int]) -> Block:
    if idx in seen or not 0 <= idx < len(program.blocks):
        raise ModelReadError(f"block {idx} is missing or nested in itself")
    seen = seen | {idx}
    ops = []
    for desc in program.blocks[idx].ops:
        slots = {slot.parameter: list(slot.arguments) for slot in desc.inputs}
        outs = {slot.parameter: list(slot.arguments) for slot in desc.outputs}
        op = Op(
            type=desc.type,
            dialect="legacy",
            inputs=[name for args in slots.values() for name in args],
            outputs=[name for args in outs.values() for name in args],
            bound_inputs=[name for slot, args in slots.items() if _is_bound_slot(slot) for name in args],
            attrs=_constant_attrs(desc),
        )
        op.blocks = [_read_block(program, sub, seen) for sub in _sub_blocks(desc)]
        if desc.type == "while":
            op.condition = op.step_condition = (slots.get("Condition") or [None])[0]
            # the body reassigns every name the loop hands on; the same name is read next step
            op.carried = [(name, name) for name in outs.get("Out", [])]
            op.results = [(name, [name]) for name in outs.get("Out", [])]
        elif op.blocks:  # conditional_block: its outputs depend on which branch ran
            op.condition = (slots.get("Cond") or [None])[0]
            op.results = [(name, [name]) for name in outs.get("Out", [])]
        ops.append(op)
    return Block(ops)


def _tensor_desc(var_type):
    # Paddle 3 renamed the LoDTensor field of VarType to dense_tensor; the wire format is the same
    for field in ("dense_tensor", "lod_tensor"):
        if field in var_type.DESCRIPTOR.fields_by_name:
            return getattr(var_type, field).tensor
    return None


def _inputs(program, framework_pb2) -> list[ModelInput]:
    block = program.blocks[0]
    vars_by_name = {var.name: var for var in block.vars}
    found = []
    for desc in block.ops:
        if desc.type != "feed":
            continue
        for slot in desc.outputs:
            for name in slot.arguments:
                var = vars_by_name.get(name)
                tensor = _tensor_desc(var.type) if var is not None else None
                dims = list(tensor.dims) if tensor is not None else []
                dtype = framework_pb2.VarType.Type.Name(tensor.data_type).lower() if tensor is not None else "?"
                found.append(ModelInput(name, dims, dtype))
    return found


def read_programdesc(path: Path) -> Graph:
    framework_pb2 = _framework_pb2()
    program = framework_pb2.ProgramDesc()
    try:
        program.ParseFromString(path.read_bytes())
    except OSError as exc:
        raise ModelReadError(f"{path}: cannot read ({exc.strerror})") from None
    except Exception as exc:  # protobuf's DecodeError, and RuntimeError from the C++ parser
        raise ModelReadError(f"{path}: not a ProgramDesc protobuf, or truncated ({type(exc).__name__})") from None
    if not program.blocks or not program.blocks[0].ops or any(not op.type for op in program.blocks[0].ops):
        raise ModelReadError(f"{path}: not a ProgramDesc model (no ops in its main block)")
    try:
        top = _read_block(program, 0, set())
    except ModelReadError as exc:
        raise ModelReadError(f"{path}: malformed ProgramDesc ({exc})") from None
    return Graph(path=path, format="programdesc", top=top, inputs=_inputs(program, framework_pb2))
